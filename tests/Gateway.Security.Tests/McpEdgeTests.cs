using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Gateway.Security.Tests;

// /mcp against DNS rebinding (a browser page on an attacker's name that resolves to the gateway) and against
// an identity provider that is down (503, never 401). Plain foreign Origin and Host refusals are covered by
// Gateway.Mcp.Tests (McpGatewayTests.Mcp_ForeignOrigin_Is403, Mcp_ForeignHost_Is403).
public sealed class McpEdgeTests : IAsyncLifetime
{
    private const string McpCredential = "mcp-upstream-credential-0123";
    private const string AllowedOrigin = "https://agents.example.com";

    private TestIdentityProvider _identity = null!;
    private CredentialedMcpServer _upstream = null!;
    private TestGateway _gateway = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _identity = await TestIdentityProvider.StartAsync();
        _upstream = await CredentialedMcpServer.StartAsync(McpCredential);
        _gateway = await TestGateway.StartAsync($$"""
            mcp:
              oidc: { issuer: "{{TestIdentityProvider.DefaultIssuer}}", audience: {{TestIdentityProvider.DefaultAudience}}, jwks_url: "{{_identity.JwksUrl}}" }
              servers:
                tools: { transport: streamable-http, url: "{{_upstream.Url}}", headers: { Authorization: "Bearer {{McpCredential}}" } }
              rules:
                - { roles: [agent], allow: ["tools__*"] }
              allowed_origins: ["{{AllowedOrigin}}"]
            keys:
            {{TestGateway.Key(extra: ", roles: [agent]")}}
            """);
    }

    public async ValueTask DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
        await _identity.DisposeAsync();
    }

    private async Task<HttpResponseMessage> ToolsListAsync(string? origin, string? host, string credential = TestGateway.DefaultKey)
    {
        using var http = new HttpClient { BaseAddress = _gateway.HttpBase };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/mcp")
        {
            Content = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        if (origin is not null)
        {
            request.Headers.TryAddWithoutValidation("Origin", origin);
        }
        if (host is not null)
        {
            request.Headers.Host = host;
        }
        return await http.SendAsync(request, Ct);
    }

    [Theory]
    // The rebinding attack proper: the page and the Host both carry the attacker's name, the address is ours.
    [InlineData("http://rebind.attacker.example:{port}", "rebind.attacker.example:{port}")]
    [InlineData("http://rebind.attacker.example:{port}", null)]
    [InlineData(null, "rebind.attacker.example:{port}")]
    // Look-alikes of loopback and of the allowed origin.
    [InlineData("http://localhost.attacker.example", null)]
    [InlineData("http://127.0.0.1.nip.io:{port}", null)]
    [InlineData("https://agents.example.com.attacker.example", null)]
    [InlineData("null", null)]
    public async Task Mcp_RebindingOrigins_AreRefused403EvenWithAValidKey(string? origin, string? host)
    {
        var port = _gateway.HttpBase.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        using var response = await ToolsListAsync(origin?.Replace("{port}", port, StringComparison.Ordinal), host?.Replace("{port}", port, StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(0, _upstream.Refused);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("http://localhost:{port}")]
    [InlineData("http://127.0.0.1:{port}")]
    [InlineData(AllowedOrigin)]
    public async Task Mcp_LoopbackOrListedOrigin_IsServed(string? origin)
    {
        var port = _gateway.HttpBase.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        using var response = await ToolsListAsync(origin?.Replace("{port}", port, StringComparison.Ordinal), null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Mcp_IdentityProviderDown_Is503NotA401()
    {
        var token = _identity.Token(new Dictionary<string, object> { ["sub"] = "agent-7", ["roles"] = new[] { "agent" } });
        _identity.Down = true;
        try
        {
            using var response = await ToolsListAsync(null, null, token);

            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        }
        finally
        {
            _identity.Down = false;
        }
    }
}
