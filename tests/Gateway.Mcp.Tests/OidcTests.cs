using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Mcp.Tests;

// OIDC bearer tokens signed by a test RSA key whose public half is served from a local JWKS endpoint.
public sealed class OidcTests : IAsyncLifetime
{
    private const string Issuer = "https://login.test.example/";
    private const string Audience = "gateway";

    private readonly RSA _rsa = RSA.Create(2048);
    private WebApplication _jwks = null!;
    private TestGateway _gateway = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        var port = FreePort.Get();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        _jwks = builder.Build();
        var key = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(_rsa.ExportParameters(false)) { KeyId = "test-key" });
        var jwks = $$"""{"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid":"test-key","n":"{{key.N}}","e":"{{key.E}}"}]}""";
        _jwks.MapGet("/jwks", () => Results.Text(jwks, "application/json"));
        await _jwks.StartAsync(Ct);
        if (!File.Exists(McpServers.Everything))
        {
            return;
        }
        _gateway = await TestGateway.StartAsync($$"""
            mcp:
              oidc: { issuer: "{{Issuer}}", audience: {{Audience}}, roles_claim: groups, jwks_url: "http://127.0.0.1:{{port}}/jwks" }
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
        await _jwks.DisposeAsync();
        _rsa.Dispose();
    }

    private string Token(string issuer = Issuer, string audience = Audience, TimeSpan? expiresIn = null)
    {
        var now = TimeProvider.System.GetUtcNow();
        var expires = now + (expiresIn ?? TimeSpan.FromMinutes(10));
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = (expires < now ? expires - TimeSpan.FromMinutes(5) : now).UtcDateTime,
            NotBefore = (expires < now ? expires - TimeSpan.FromMinutes(5) : now).UtcDateTime,
            Expires = expires.UtcDateTime,
            Claims = new Dictionary<string, object> { ["sub"] = "alice@example.com", ["groups"] = new[] { "analyst" } },
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(_rsa) { KeyId = "test-key" }, SecurityAlgorithms.RsaSha256),
        });
    }

    private static string Unsigned()
    {
        static string B64(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));
        var exp = TimeProvider.System.GetUtcNow().AddMinutes(10).ToUnixTimeSeconds();
        return $"{B64("""{"alg":"none","typ":"JWT"}""")}.{B64($$"""{"iss":"{{Issuer}}","aud":"{{Audience}}","sub":"mallory","groups":["analyst"],"exp":{{exp}}}""")}.";
    }

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
        var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            Expires = TimeProvider.System.GetUtcNow().UtcDateTime.AddMinutes(10),
            Claims = new Dictionary<string, object> { ["sub"] = "mallory", ["groups"] = new[] { "analyst" } },
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(other) { KeyId = "test-key" }, SecurityAlgorithms.RsaSha256),
        });
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(token));
    }
}
