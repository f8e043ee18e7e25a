using System.Text.RegularExpressions;
using Gateway.Common.Security;

namespace Gateway.Common.Configuration;

// The provider kinds that sign their own requests (bedrock: AWS SigV4; vertex: Google service account
// tokens): a region the endpoint is derived from, and credentials that can work.
internal sealed partial class ConfigValidator
{
    private static readonly IReadOnlyList<string> CloudKinds = ["bedrock", "vertex"];

    private void ValidateCloudProvider(string path, ProviderConfig provider)
    {
        if (provider.Kind == "bedrock")
        {
            ValidateBedrock(path, provider);
        }
        else if (provider.Kind == "vertex")
        {
            ValidateVertex(path, provider);
        }
        else
        {
            foreach (var (key, set) in new[] { ("region", provider.Region is not null), ("project", provider.Project is not null), ("aws", provider.Aws is not null), ("google", provider.Google is not null) })
            {
                if (set)
                {
                    Error($"{path}.{key}", $"is used only by the bedrock and vertex kinds; remove it from this {provider.Kind} provider");
                }
            }
        }
    }

    private void ValidateBedrock(string path, ProviderConfig provider)
    {
        if (string.IsNullOrEmpty(provider.Region))
        {
            Error($"{path}.region", "required for bedrock; set the AWS region, e.g. us-east-1");
        }
        else if (!AwsRegion().IsMatch(provider.Region))
        {
            Error($"{path}.region", $"expected an AWS region such as us-east-1 or eu-central-1; found {Show($"{path}.region", provider.Region)}");
        }
        if (provider.Project is not null)
        {
            Error($"{path}.project", "is used only by vertex; remove it");
        }
        if (provider.Google is not null)
        {
            Error($"{path}.google", "is used only by vertex; bedrock takes AWS credentials under aws");
        }
        if (provider.Aws is not { } aws)
        {
            return;
        }
        var awsPath = $"{path}.aws";
        if (string.IsNullOrEmpty(aws.AccessKeyId) != string.IsNullOrEmpty(aws.SecretAccessKey))
        {
            Error(string.IsNullOrEmpty(aws.AccessKeyId) ? $"{awsPath}.access_key_id" : $"{awsPath}.secret_access_key",
                "access_key_id and secret_access_key go together; set both, or neither to use the environment or the instance role");
        }
        if (!string.IsNullOrEmpty(aws.SessionToken) && string.IsNullOrEmpty(aws.AccessKeyId))
        {
            Error($"{awsPath}.session_token", "a session token needs access_key_id and secret_access_key beside it");
        }
        foreach (var (key, value) in new[] { ("access_key_id", aws.AccessKeyId), ("secret_access_key", aws.SecretAccessKey), ("session_token", aws.SessionToken) })
        {
            if (value is not null && HasWhitespace(value))
            {
                Error($"{awsPath}.{key}", "contains whitespace or a line break; remove it (a trailing newline in the secret is the usual cause)");
            }
        }
        if (!Uri.TryCreate(aws.ImdsEndpoint, UriKind.Absolute, out var imds) || (imds.Scheme != Uri.UriSchemeHttp && imds.Scheme != Uri.UriSchemeHttps) || imds.Query.Length > 0)
        {
            Error($"{awsPath}.imds_endpoint", $"expected the instance metadata service's URL, e.g. http://169.254.169.254; found {Show($"{awsPath}.imds_endpoint", aws.ImdsEndpoint)}");
        }
    }

    private void ValidateVertex(string path, ProviderConfig provider)
    {
        if (string.IsNullOrEmpty(provider.Region))
        {
            Error($"{path}.region", "required for vertex; set the Google Cloud location, e.g. us-central1 (or global)");
        }
        else if (!GoogleLocation().IsMatch(provider.Region))
        {
            Error($"{path}.region", $"expected a Google Cloud location such as us-central1, europe-west4 or global; found {Show($"{path}.region", provider.Region)}");
        }
        if (string.IsNullOrEmpty(provider.Project))
        {
            Error($"{path}.project", "required for vertex; set the Google Cloud project id, e.g. my-project-123");
        }
        else if (!GoogleProject().IsMatch(provider.Project))
        {
            Error($"{path}.project", $"expected a Google Cloud project id (lowercase letters, digits and hyphens); found {Show($"{path}.project", provider.Project)}");
        }
        if (provider.Aws is not null)
        {
            Error($"{path}.aws", "is used only by bedrock; vertex takes a service account under google");
        }
        if (provider.ApiKey is not null)
        {
            Error($"{path}.api_key", "is not used by vertex; set google.service_account_file (or google.service_account_json)");
        }
        var googlePath = $"{path}.google";
        if (provider.Google is not { } google || string.IsNullOrEmpty(google.ServiceAccountFile) == string.IsNullOrEmpty(google.ServiceAccountJson))
        {
            Error(googlePath, "set exactly one of service_account_file (path to the service account's key file) or service_account_json (the key itself, normally ${ENV})");
            return;
        }
        string json;
        string keyPath;
        if (!string.IsNullOrEmpty(google.ServiceAccountFile))
        {
            keyPath = $"{googlePath}.service_account_file";
            try
            {
                json = File.ReadAllText(google.ServiceAccountFile);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                Error(keyPath, $"cannot read {Show(keyPath, google.ServiceAccountFile)}: {e.GetType().Name}; check the path and the file's permissions");
                return;
            }
        }
        else
        {
            keyPath = $"{googlePath}.service_account_json";
            json = google.ServiceAccountJson!;
        }
        GoogleServiceAccount.Parse(json, out var error);
        if (error is not null)
        {
            Error(keyPath, "the service account key " + error);
        }
    }

    [GeneratedRegex("^[a-z]{2}(-[a-z]+)+-[0-9]+$")]
    private static partial Regex AwsRegion();

    [GeneratedRegex("^(global|[a-z]+(-[a-z]+)*[0-9]+)$")]
    private static partial Regex GoogleLocation();

    [GeneratedRegex("^([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")]
    private static partial Regex GoogleProject();
}
