using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using static Gateway.Router.Providers.JsonRead;

namespace Gateway.Router.Providers.Bedrock;

// Resolves the AWS credentials a bedrock provider signs with, in the order the AWS SDKs use: keys in the
// configuration, then AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, then the instance role
// from the instance metadata service (IMDSv2: a session token by PUT, then the role's temporary keys).
// Role credentials are cached until shortly before they expire; one refresh runs at a time per endpoint.
public sealed class AwsCredentialSource(IHttpClientFactory httpClientFactory, TimeProvider time, Func<string, string?>? environment = null)
{
    // Refresh this long before expiry, so a request never signs with keys that lapse in flight.
    private static readonly TimeSpan RefreshMargin = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan ImdsTimeout = TimeSpan.FromSeconds(2);

    private readonly Func<string, string?> _environment = environment ?? Environment.GetEnvironmentVariable;
    private readonly ConcurrentDictionary<string, RoleCache> _roles = new(StringComparer.Ordinal);

    public async ValueTask<AwsCredentials> GetAsync(string providerName, AwsCredentialsConfig? config, CancellationToken cancellationToken)
    {
        if (config is { AccessKeyId.Length: > 0, SecretAccessKey.Length: > 0 })
        {
            return new AwsCredentials(config.AccessKeyId, config.SecretAccessKey, NullIfEmpty(config.SessionToken));
        }
        if (_environment("AWS_ACCESS_KEY_ID") is { Length: > 0 } keyId && _environment("AWS_SECRET_ACCESS_KEY") is { Length: > 0 } secret)
        {
            return new AwsCredentials(keyId, secret, NullIfEmpty(_environment("AWS_SESSION_TOKEN")));
        }
        var endpoint = (config?.ImdsEndpoint ?? new AwsCredentialsConfig().ImdsEndpoint).TrimEnd('/');
        var cache = _roles.GetOrAdd(endpoint, _ => new RoleCache());
        if (cache.Current is { } current && !ExpiresSoon(current))
        {
            return current;
        }
        await cache.Lock.WaitAsync(cancellationToken);
        try
        {
            if (cache.Current is { } fresh && !ExpiresSoon(fresh))
            {
                return fresh;
            }
            return cache.Current = await FetchRoleAsync(providerName, endpoint, cancellationToken);
        }
        finally
        {
            cache.Lock.Release();
        }
    }

    private bool ExpiresSoon(AwsCredentials credentials)
        => credentials.Expiration is { } expiration && expiration - RefreshMargin <= time.GetUtcNow();

    private async Task<AwsCredentials> FetchRoleAsync(string providerName, string endpoint, CancellationToken cancellationToken)
    {
        var client = httpClientFactory.CreateClient(ProviderHttp.CredentialsClientName);
        // Off AWS the metadata address does not answer at all: give up quickly, as the AWS SDKs do.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ImdsTimeout);
        var token = timeout.Token;
        try
        {
            using var tokenRequest = new HttpRequestMessage(HttpMethod.Put, $"{endpoint}/latest/api/token");
            tokenRequest.Headers.TryAddWithoutValidation("X-aws-ec2-metadata-token-ttl-seconds", "21600");
            var session = await SendAsync(client, tokenRequest, token);
            var rolePath = $"{endpoint}/latest/meta-data/iam/security-credentials/";
            var roles = await SendAsync(client, WithToken(new HttpRequestMessage(HttpMethod.Get, rolePath), session), token);
            var role = roles.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault()
                ?? throw Failure(providerName, "the instance has no IAM role attached");
            var json = await SendAsync(client, WithToken(new HttpRequestMessage(HttpMethod.Get, rolePath + Uri.EscapeDataString(role)), session), token);
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (OptString(root, "Code") is { } code && code != "Success")
            {
                throw Failure(providerName, $"the metadata service answered {code}");
            }
            var keyId = OptString(root, "AccessKeyId");
            var secret = OptString(root, "SecretAccessKey");
            if (string.IsNullOrEmpty(keyId) || string.IsNullOrEmpty(secret))
            {
                throw Failure(providerName, "the metadata service returned no keys");
            }
            DateTimeOffset? expiration = DateTimeOffset.TryParse(OptString(root, "Expiration"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed) ? parsed : null;
            return new AwsCredentials(keyId, secret, NullIfEmpty(OptString(root, "Token")), expiration);
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw Failure(providerName, "the instance metadata service could not be reached or answered badly");
        }
    }

    private static HttpRequestMessage WithToken(HttpRequestMessage request, string token)
    {
        request.Headers.TryAddWithoutValidation("X-aws-ec2-metadata-token", token);
        return request;
    }

    private static async Task<string> SendAsync(HttpClient client, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using (request)
        {
            using var response = await client.SendAsync(request, cancellationToken);
            response.EnsureSuccessStatusCode();
            return await response.Content.ReadAsStringAsync(cancellationToken);
        }
    }

    // The gateway's own credentials are missing: not the client's fault, and another deployment may work.
    private static GatewayException Failure(string providerName, string reason)
        => new(ErrorKind.UpstreamAuthentication, $"Provider '{providerName}' has no usable AWS credentials: none in the configuration or the environment, and {reason}.");

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private sealed class RoleCache
    {
        public SemaphoreSlim Lock { get; } = new(1, 1);

        public AwsCredentials? Current { get; set; }
    }
}
