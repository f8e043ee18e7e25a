using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Testing;

// An OIDC identity provider for tests: an RSA signing key whose public half is served as a JSON Web Key Set
// on a local port, and tokens signed with it (or deliberately wrong ones).
public sealed class TestIdentityProvider : IAsyncDisposable
{
    public const string DefaultIssuer = "https://login.test.example/";
    public const string DefaultAudience = "gateway";
    public const string KeyId = "test-key";

    private readonly RSA _rsa = RSA.Create(2048);
    private WebApplication _app = null!;
    private int _fetches;

    public Uri JwksUrl { get; private set; } = null!;

    // How many times the key set was fetched.
    public int JwksFetches => Volatile.Read(ref _fetches);

    // While true the JWKS endpoint answers 503 (the identity provider is down).
    public bool Down { get; set; }

    public static async Task<TestIdentityProvider> StartAsync()
    {
        var provider = new TestIdentityProvider();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        provider._app = builder.Build();
        var key = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(provider._rsa.ExportParameters(false)) { KeyId = KeyId });
        var jwks = $$"""{"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid":"{{KeyId}}","n":"{{key.N}}","e":"{{key.E}}"}]}""";
        provider._app.MapGet("/jwks", () =>
        {
            Interlocked.Increment(ref provider._fetches);
            return provider.Down ? Results.StatusCode(StatusCodes.Status503ServiceUnavailable) : Results.Text(jwks, "application/json");
        });
        await provider._app.StartAsync();
        var address = provider._app.Urls.First();
        provider.JwksUrl = new Uri(address.TrimEnd('/') + "/jwks");
        return provider;
    }

    // A token signed by this provider's key. `signingKey` signs with another key under the same kid; `kid`
    // names a key the key set does not hold.
    public string Token(
        IDictionary<string, object>? claims = null,
        string issuer = DefaultIssuer,
        string audience = DefaultAudience,
        TimeSpan? expiresIn = null,
        RSA? signingKey = null,
        string kid = KeyId)
    {
        var now = TimeProvider.System.GetUtcNow();
        var expires = now + (expiresIn ?? TimeSpan.FromMinutes(10));
        var issued = expires < now ? expires - TimeSpan.FromMinutes(5) : now;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = issued.UtcDateTime,
            NotBefore = issued.UtcDateTime,
            Expires = expires.UtcDateTime,
            Claims = claims ?? new Dictionary<string, object> { ["sub"] = "alice@example.com" },
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(signingKey ?? _rsa) { KeyId = kid }, SecurityAlgorithms.RsaSha256),
        });
    }

    // An unsigned token (`alg: none`) that would otherwise pass every check.
    public static string Unsigned(string subject = "mallory", string issuer = DefaultIssuer, string audience = DefaultAudience, string extraClaims = "")
    {
        static string B64(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));
        var exp = TimeProvider.System.GetUtcNow().AddMinutes(10).ToUnixTimeSeconds();
        return $"{B64("""{"alg":"none","typ":"JWT"}""")}.{B64($$"""{"iss":"{{issuer}}","aud":"{{audience}}","sub":"{{subject}}","exp":{{exp}}{{extraClaims}}}""")}.";
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        _rsa.Dispose();
    }
}
