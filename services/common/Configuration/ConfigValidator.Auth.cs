namespace Gateway.Common.Configuration;

internal sealed partial class ConfigValidator
{
    private void ValidateAuth()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var issuers = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < config.Auth.Oidc.Count; i++)
        {
            var path = $"auth.oidc[{i}]";
            var oidc = config.Auth.Oidc[i];
            if (!ConfigNames.IsName(oidc.Name))
            {
                Error($"{path}.name", $"expected a name for this identity provider ({ConfigNames.NameRule}), e.g. okta; principals are named oidc:NAME:USER");
            }
            else if (!names.Add(oidc.Name))
            {
                Error($"{path}.name", $"'{oidc.Name}' is used by another auth.oidc entry; names must be unique");
            }
            // Tokens are matched to their provider by `iss`: two entries with one issuer would be ambiguous.
            if (oidc.Issuer.Length > 0 && !issuers.Add(oidc.Issuer))
            {
                Error($"{path}.issuer", "is the issuer of another auth.oidc entry; give each issuer one entry");
            }
            ValidateOidc(path, oidc);
            for (var m = 0; m < oidc.Models.Count; m++)
            {
                if (!config.Models.ContainsKey(oidc.Models[m]))
                {
                    Error($"{path}.models[{m}]", $"unknown model {Show($"{path}.models[{m}]", oidc.Models[m])}; use one of: {List(config.Models.Keys)}");
                }
            }
        }
    }

    private void ValidateResponses()
    {
        if (config.Responses.RetentionDays is <= 0 or > 3650 || !double.IsFinite(config.Responses.RetentionDays))
        {
            Error("responses.retention_days", "must be more than 0 and at most 3650 days (default 30); stored responses older than this are deleted");
        }
    }
}
