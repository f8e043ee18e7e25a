using Gateway.Common.Configuration;
using static Gateway.Common.Tests.Configuration.ConfigAssert;

namespace Gateway.Common.Tests.Configuration;

// The `mcp:` section: the issue's example binds as written, and each mistake names its key path.
public sealed class McpConfigTests
{
    private const string IssueExample = """
        keys:
          - { name: agent-1, key: ${AGENT_KEY}, team: support, roles: [analyst] }
        mcp:
          oidc: { issuer: https://login.example.com/, audience: gateway, roles_claim: groups, jwks_url: https://login.example.com/jwks }
          servers:
            everything: { transport: streamable-http, url: http://127.0.0.1:3001/mcp }
            memory:     { transport: stdio, command: npx, args: ["-y", "@modelcontextprotocol/server-memory"] }
          virtual:
            everything-only: { servers: [everything], prefix: false }   # served at /mcp/everything-only
          rules:                                                        # deny by default
            - { roles: [analyst], allow: ["everything__*", "memory__read_*"], capabilities: [read] }
            - { roles: [admin],   allow: ["*"] }
          rate_limits:
            - { roles: [analyst], tool: "*", per_minute: 60 }
        """;

    private static string Mcp(string body) => $"{ProviderAndModel}\nmcp:\n{body}\n";

    [Fact]
    public void Parse_IssueExample_BindsEverySection()
    {
        var config = ConfigLoader.Parse(ProviderAndModel + "\n" + IssueExample, name => name == "AGENT_KEY" ? "agent-key-0123456789abcdef" : null);

        Assert.Equal("groups", config.Mcp.Oidc!.RolesClaim);
        Assert.Equal("https://login.example.com/jwks", config.Mcp.Oidc.JwksUrl);
        Assert.Equal("streamable-http", config.Mcp.Servers["everything"].Transport);
        Assert.Equal(["-y", "@modelcontextprotocol/server-memory"], config.Mcp.Servers["memory"].Args);
        Assert.False(config.Mcp.Virtual["everything-only"].Prefix);
        Assert.Equal(["read"], config.Mcp.Rules[0].Capabilities);
        Assert.Equal(60, config.Mcp.RateLimits[0].PerMinute);
        Assert.Equal(["analyst"], config.Keys[0].Roles);
    }

    [Fact]
    public void Parse_UnknownTransport_ListsTheTransports()
        => Single(Mcp("  servers:\n    x: { transport: websocket, url: http://127.0.0.1/mcp }"), "mcp.servers.x.transport", "use one of: stdio, streamable-http");

    [Fact]
    public void Parse_ServerNameWithSeparator_IsRefused()
        => Single(Mcp("  servers:\n    a__b: { transport: stdio, command: node }"), "mcp.servers.a__b", "no '__'");

    [Fact]
    public void Parse_HttpServerWithCredentialsInUrl_PointsToHeaders()
        => Single(Mcp("  servers:\n    x: { transport: streamable-http, url: \"http://user:pw@127.0.0.1/mcp\" }"), "mcp.servers.x.url", "put them in headers");

    [Fact]
    public void Parse_StdioWithoutCommand_AsksForOne()
        => Single(Mcp("  servers:\n    x: { transport: stdio }"), "mcp.servers.x.command", "missing");

    [Fact]
    public void Parse_VirtualServerOfUnknownServer_NamesTheKnownOnes()
        => Single(Mcp("  servers:\n    a: { transport: stdio, command: node }\n  virtual:\n    v: { servers: [b] }"), "mcp.virtual.v.servers[0]", "use one of: a");

    [Fact]
    public void Parse_UnprefixedVirtualServerOfTwoServers_IsRefused()
        => Single(Mcp("  servers:\n    a: { transport: stdio, command: node }\n    b: { transport: stdio, command: node }\n  virtual:\n    v: { servers: [a, b], prefix: false }"),
            "mcp.virtual.v.prefix", "needs exactly one server");

    [Fact]
    public void Parse_RuleWithUnknownCapability_ListsTheClasses()
        => Single(Mcp("  rules:\n    - { roles: [a], allow: [\"*\"], capabilities: [delete] }"), "mcp.rules[0].capabilities[0]", "read, write, destructive, execute");

    [Fact]
    public void Parse_RuleForNobody_IsRefused()
        => Single(Mcp("  rules:\n    - { allow: [\"*\"] }"), "mcp.rules[0]", "names nobody");

    [Fact]
    public void Parse_ZeroRateLimit_GivesTheRange()
        => Single(Mcp("  rate_limits:\n    - { roles: [a], per_minute: 0 }"), "mcp.rate_limits[0].per_minute", "between 1 and 1000000");

    [Fact]
    public void Parse_OidcWithSymmetricAlgorithm_IsRefused()
        => Single(Mcp("  oidc: { issuer: https://i.example/, audience: a, jwks_url: https://i.example/jwks, algorithms: [HS256] }"),
            "mcp.oidc.algorithms[0]", "use asymmetric ones");

    [Fact]
    public void Parse_BadRugPullPolicy_GivesTheChoices()
        => Single(Mcp("  rug_pull: ignore"), "mcp.rug_pull", "use flag or block");
}
