using System.Security.Claims;
using Gateway.Common.Configuration;
using Gateway.Common.Security;

namespace Gateway.Common.Tests.Security;

// How a validated token's claims become the principal that budgets, guard policies and traces see.
public sealed class OidcClaimMappingTests
{
    private static readonly OidcConfig Okta = new()
    {
        Name = "okta",
        UserClaim = "email",
        Teams = new(StringComparer.Ordinal) { ["Data Science"] = "data-science", ["Legal"] = "legal" },
        Defaults = new OidcDefaultsConfig { Team = "everyone", Project = "churn", Environment = "prod" },
        Models = ["gpt-4o-mini"],
    };

    private static ClaimsIdentity Identity(params (string Type, string Value)[] claims)
        => new(claims.Select(c => new Claim(c.Type, c.Value)), "test");

    [Fact]
    public void ToPrincipal_GroupsMapToTheFirstListedTeam_DefaultsFillTheRest()
    {
        var principal = OidcTokenValidator.ToPrincipal(Identity(("sub", "00u1"), ("email", "alice@example.com"), ("groups", "Legal"), ("groups", "Data Science")), Okta);

        Assert.Equal("data-science", principal.Team);
        Assert.Equal("alice@example.com", principal.User);
        Assert.Equal("oidc:okta:alice@example.com", principal.KeyName);
        Assert.Equal("churn", principal.Project);
        Assert.Equal("prod", principal.Environment);
        Assert.Equal(["gpt-4o-mini"], principal.AllowedModels);
    }

    [Fact]
    public void ToPrincipal_ClaimsWinOverGroupsAndDefaults()
    {
        var principal = OidcTokenValidator.ToPrincipal(Identity(("sub", "00u1"), ("team", "platform"), ("groups", "Legal"), ("project", "search"), ("environment", "dev")), Okta);

        Assert.Equal("platform", principal.Team);
        Assert.Equal("search", principal.Project);
        Assert.Equal("dev", principal.Environment);
    }

    [Fact]
    public void ToPrincipal_NoUserClaimNoMappedGroup_FallsBackToSubAndDefaultTeam()
    {
        var principal = OidcTokenValidator.ToPrincipal(Identity(("sub", "00u1"), ("groups", "Everyone")), Okta);

        Assert.Equal("00u1", principal.User);
        Assert.Equal("everyone", principal.Team);
    }
}
