using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.Mcp.Tests;

// OIDC bearer tokens signed by a test RSA key whose public half is served from a local JWKS endpoint.
public sealed class OidcTests : IAsyncLifetime
{
    private const string Issuer = TestIdentityProvider.DefaultIssuer;
    private const string Audience = TestIdentityProvider.DefaultAudience;

    private TestIdentityProvider _idp = null!;
    private TestGateway _gateway = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _idp = await TestIdentityProvider.StartAsync();
        if (!File.Exists(McpServers.Everything))
        {
            return;
        }
        _gateway = await TestGateway.StartAsync($$"""
            mcp:
              oidc: { issuer: "{{Issuer}}", audience: {{Audience}}, roles_claim: groups, jwks_url: "{{_idp.JwksUrl}}" }
              servers:
            {{McpServers.Stdio("fixture", McpServers.Fixture)}}
              rules:
                - { roles: [analyst], allow: ["fixture__notes"] }
            """);
    }

    public async ValueTask DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }
        await _idp.DisposeAsync();
    }

    private string Token(string issuer = Issuer, string audience = Audience, TimeSpan? expiresIn = null)
        => _idp.Token(new Dictionary<string, object> { ["sub"] = "alice@example.com", ["groups"] = new[] { "analyst" } }, issuer, audience, expiresIn);

    private static string Unsigned() => TestIdentityProvider.Unsigned(extraClaims: ""","groups":["analyst"]""");

    private async Task<HttpStatusCode> StatusAsync(string token)
    {
        using var http = new HttpClient { BaseAddress = _gateway.HttpBase };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/mcp")
        {
            Content = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", token);
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        using var response = await http.SendAsync(request, Ct);
        return response.StatusCode;
    }

    [Fact]
    public async Task ValidToken_RolesFromGroupsClaim_SeesGrantedTools()
    {
        McpServers.Require();
        await using var client = await McpServers.ConnectAsync(_gateway, Token());

        var names = (await client.ListToolsAsync(cancellationToken: Ct)).Select(t => t.Name).ToList();
        await client.CallToolAsync("fixture__notes", cancellationToken: Ct);

        Assert.Equal(["fixture__notes"], names);
        var row = Assert.Single((await McpServers.AuditAsync(_gateway, "?tool=fixture__notes")).EnumerateArray());
        Assert.Equal("alice@example.com", row.GetProperty("user").GetString());
        Assert.Equal("analyst", Assert.Single(row.GetProperty("roles").EnumerateArray()).GetString());
    }

    [Fact]
    public async Task ExpiredToken_Is401()
    {
        McpServers.Require();
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(Token(expiresIn: TimeSpan.FromMinutes(-10))));
    }

    [Fact]
    public async Task WrongAudience_Is401()
    {
        McpServers.Require();
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(Token(audience: "someone-else")));
    }

    [Fact]
    public async Task WrongIssuer_Is401()
    {
        McpServers.Require();
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(Token(issuer: "https://evil.example/")));
    }

    [Fact]
    public async Task AlgNone_Is401()
    {
        McpServers.Require();
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(Unsigned()));
    }

    [Fact]
    public async Task TokenSignedByAnotherKey_Is401()
    {
        McpServers.Require();
        using var other = RSA.Create(2048);
        var token = _idp.Token(new Dictionary<string, object> { ["sub"] = "mallory", ["groups"] = new[] { "analyst" } }, signingKey: other);
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(token));
    }
}
