using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Common.Security;
using static Gateway.Router.Providers.JsonRead;

namespace Gateway.Router.Providers.Vertex;

// OAuth 2.0 access tokens for a Google service account (RFC 7523 JWT bearer grant): a JWT signed RS256 with
// the account's private key, exchanged at the key file's token_uri. Tokens are cached per account until
// shortly before they expire; one exchange runs at a time per account.
public sealed class GoogleTokenSource(IHttpClientFactory httpClientFactory, TimeProvider time)
{
    public const string Scope = "https://www.googleapis.com/auth/cloud-platform";

    private static readonly TimeSpan RefreshMargin = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan AssertionLifetime = TimeSpan.FromHours(1);

    private readonly ConcurrentDictionary<string, AccountCache> _accounts = new(StringComparer.Ordinal);

    public async ValueTask<string> GetTokenAsync(string providerName, GoogleCredentialsConfig? config, CancellationToken cancellationToken)
    {
        var key = config?.ServiceAccountFile is { Length: > 0 } path ? "file:" + path : "json:" + config?.ServiceAccountJson;
        var cache = _accounts.GetOrAdd(key, _ => new AccountCache());
        if (cache.Token is { } token && token.Expires - RefreshMargin > time.GetUtcNow())
        {
            return token.Value;
        }
        await cache.Lock.WaitAsync(cancellationToken);
        try
        {
            if (cache.Token is { } fresh && fresh.Expires - RefreshMargin > time.GetUtcNow())
            {
                return fresh.Value;
            }
            var account = GoogleServiceAccount.Parse(await ReadKeyAsync(providerName, config, cancellationToken), out var error)
                ?? throw Failure(providerName, "the service account key " + error);
            cache.Token = await ExchangeAsync(providerName, account, cancellationToken);
            return cache.Token.Value;
        }
        finally
        {
            cache.Lock.Release();
        }
    }

    // The signed assertion: header {alg, typ, kid}, claims {iss, scope, aud = token_uri, iat, exp}.
    public static string CreateAssertion(GoogleServiceAccount account, DateTimeOffset now)
    {
        var header = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["alg"] = "RS256", ["typ"] = "JWT", ["kid"] = account.PrivateKeyId });
        var claims = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["iss"] = account.ClientEmail,
            ["scope"] = Scope,
            ["aud"] = account.TokenUri.ToString(),
            ["iat"] = now.ToUnixTimeSeconds(),
            ["exp"] = (now + AssertionLifetime).ToUnixTimeSeconds(),
        });
        var signingInput = Base64Url.EncodeToString(header) + "." + Base64Url.EncodeToString(claims);
        using var rsa = RSA.Create();
        rsa.ImportFromPem(account.PrivateKeyPem);
        var signature = rsa.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    private async Task<AccessToken> ExchangeAsync(string providerName, GoogleServiceAccount account, CancellationToken cancellationToken)
    {
        string assertion;
        try
        {
            assertion = CreateAssertion(account, time.GetUtcNow());
        }
        catch (CryptographicException)
        {
            throw Failure(providerName, "the service account's private_key could not be read as an RSA key");
        }
        using var request = new HttpRequestMessage(HttpMethod.Post, account.TokenUri)
        {
            Content = new FormUrlEncodedContent([new("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), new("assertion", assertion)]),
        };
        try
        {
            using var response = await httpClientFactory.CreateClient(ProviderHttp.CredentialsClientName).SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (!response.IsSuccessStatusCode || OptString(root, "access_token") is not { Length: > 0 } token)
            {
                // {"error": "invalid_grant", "error_description": "..."}: the description names no secret.
                var reason = OptString(root, "error_description") ?? OptString(root, "error") ?? $"status {(int)response.StatusCode}";
                throw Failure(providerName, $"the token endpoint refused the service account ({reason})");
            }
            var lifetime = OptInt(root, "expires_in") is > 0 and var seconds ? seconds : 3600;
            return new AccessToken(token, time.GetUtcNow().AddSeconds(lifetime));
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw Failure(providerName, "the token endpoint could not be reached or answered badly");
        }
    }

    private static async ValueTask<string> ReadKeyAsync(string providerName, GoogleCredentialsConfig? config, CancellationToken cancellationToken)
    {
        if (config?.ServiceAccountJson is { Length: > 0 } json)
        {
            return json;
        }
        if (config?.ServiceAccountFile is not { Length: > 0 } file)
        {
            throw Failure(providerName, "no service account is configured");
        }
        try
        {
            // Read on every token miss, so a rotated key file is picked up without a restart.
            return await File.ReadAllTextAsync(file, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Failure(providerName, "the service account key file cannot be read");
        }
    }

    // The gateway's own credentials failed: not the client's fault, and another deployment may work.
    private static GatewayException Failure(string providerName, string reason)
        => new(ErrorKind.UpstreamAuthentication, $"Provider '{providerName}' could not obtain a Google access token: {reason}.");

    private sealed record AccessToken(string Value, DateTimeOffset Expires);

    private sealed class AccountCache
    {
        public SemaphoreSlim Lock { get; } = new(1, 1);

        public AccessToken? Token { get; set; }
    }
}
