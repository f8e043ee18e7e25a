using Gateway.Common.Configuration;
using static Gateway.Common.Tests.Configuration.ConfigAssert;

namespace Gateway.Common.Tests.Configuration;

// `auth.oidc` (identity-provider tokens on the LLM routes) and `responses`: the documented example binds,
// and each mistake names its key path.
public sealed class AuthConfigTests
{
    private const string Okta = """
        auth:
          oidc:
            - name: okta
              issuer: https://example.okta.com/oauth2/default
              audience: api://gateway
              jwks_url: https://example.okta.com/oauth2/default/v1/keys
              user_claim: email
              teams: { "Data Science": data-science, "Legal": legal }
              defaults: { project: churn, environment: prod }
              models: [gpt-4o]
        responses:
          retention_days: 7
        """;

    private static string Auth(string entry) => $"{ProviderAndModel}\nauth:\n  oidc:\n    - {entry}\n";

    private const string Valid = "name: okta, issuer: https://idp.example/, audience: gw, jwks_url: https://idp.example/jwks";

    [Fact]
    public void Parse_DocumentedExample_BindsClaimMappingAndRetention()
    {
        var config = ConfigLoader.Parse(ProviderAndModel + "\n" + Okta, NoEnvironment);

        var oidc = Assert.Single(config.Auth.Oidc);
        Assert.Equal("email", oidc.UserClaim);
        Assert.Equal(["Data Science", "Legal"], oidc.Teams.Keys);
        Assert.Equal("data-science", oidc.Teams["Data Science"]);
        Assert.Equal("prod", oidc.Defaults.Environment);
        Assert.Equal(["gpt-4o"], oidc.Models);
        Assert.Equal(7, config.Responses.RetentionDays);
    }

    [Fact]
    public void Parse_Defaults_NoIssuersAndThirtyDayRetention()
    {
        var config = ConfigLoader.Parse(ProviderAndModel, NoEnvironment);

        Assert.Empty(config.Auth.Oidc);
        Assert.Equal(30, config.Responses.RetentionDays);
    }

    [Fact]
    public void Parse_MissingName_AsksForOne()
        => Single(Auth("{ issuer: https://idp.example/, audience: gw, jwks_url: https://idp.example/jwks }"), "auth.oidc[0].name", "expected a name");

    [Fact]
    public void Parse_MissingAudience_SaysWhatToSet()
        => Single(Auth("{ name: okta, issuer: https://idp.example/, jwks_url: https://idp.example/jwks }"), "auth.oidc[0].audience", "missing");

    [Fact]
    public void Parse_HmacAlgorithm_IsRefused()
        => Single(Auth($"{{ {Valid}, algorithms: [HS256] }}"), "auth.oidc[0].algorithms[0]", "asymmetric");

    [Fact]
    public void Parse_UnknownModel_NamesTheKnownOnes()
        => Single(Auth($"{{ {Valid}, models: [gpt-5] }}"), "auth.oidc[0].models[0]", "use one of: gpt-4o");

    [Fact]
    public void Parse_SameIssuerTwice_IsAmbiguous()
    {
        var yaml = Auth($"{{ {Valid} }}") + $"    - {{ name: again, issuer: https://idp.example/, audience: gw, jwks_url: https://idp.example/jwks }}\n";
        Single(yaml, "auth.oidc[1].issuer", "one entry");
    }

    [Fact]
    public void Parse_ZeroRetention_IsRefused()
        => Single(ProviderAndModel + "\nresponses:\n  retention_days: 0\n", "responses.retention_days", "more than 0");
}
