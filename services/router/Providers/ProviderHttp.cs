using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;

namespace Gateway.Router.Providers;

// An upstream response whose body is still to be read (an answer parsed as it arrives, or a stream), with the
// timeout that governs it.
public sealed class UpstreamCall(HttpResponseMessage response, CancellationTokenSource timeout, CancellationToken caller) : IDisposable
{
    public HttpResponseMessage Response { get; } = response;

    public CancellationToken Token => timeout.Token;

    // The provider's time ran out (not the caller leaving, which also cancels Token).
    public bool TimedOut => timeout.IsCancellationRequested && !caller.IsCancellationRequested;

    public void Dispose()
    {
        Response.Dispose();
        timeout.Dispose();
    }
}

// Sends provider requests through the pooled, factory-made HttpClient with the provider's timeout, and turns
// failures into typed gateway errors. Each adapter supplies how to read its own error bodies.
public sealed class ProviderHttp(IHttpClientFactory httpClientFactory)
{
    public const string ClientName = "providers";

    // For the calls that obtain a provider's credentials (instance metadata, OAuth token endpoints).
    public const string CredentialsClientName = "provider-credentials";

    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public delegate GatewayException ErrorReader(int status, string body, int? retryAfterSeconds);

    public static HttpContent JsonContent(Action<Utf8JsonWriter> write) => JsonContent(JsonBytes(write));

    public static HttpContent JsonContent(ReadOnlyMemory<byte> json)
    {
        var content = new ReadOnlyMemoryContent(json);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    // The body as bytes, for providers that sign it (AWS SigV4 hashes the exact payload).
    public static ReadOnlyMemory<byte> JsonBytes(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            write(writer);
        }
        return buffer.WrittenMemory;
    }

    public async Task<UpstreamCall> SendAsync(ProviderTarget target, HttpRequestMessage request, bool streaming, ErrorReader readError, CancellationToken cancellationToken)
    {
        var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(target.Config.TimeoutSeconds));
        HttpResponseMessage response;
        try
        {
            var client = httpClientFactory.CreateClient(ClientName);
            // Headers only, for answers as well as streams: an answer is parsed from the connection as it arrives
            // (ReadJsonAsync) instead of being copied into a buffer the size of the body first.
            response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        }
        catch (Exception e) when (e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            timeout.Dispose();
            throw new GatewayException(ErrorKind.UpstreamTimeout, $"Provider '{target.ProviderName}' did not answer within {target.Config.TimeoutSeconds:0.#} s.");
        }
        catch (HttpRequestException e)
        {
            timeout.Dispose();
            throw new GatewayException(ErrorKind.UpstreamError, $"Could not reach provider '{target.ProviderName}' ({Describe(e)}).");
        }
        catch
        {
            timeout.Dispose();
            throw;
        }

        if (response.IsSuccessStatusCode)
        {
            return new UpstreamCall(response, timeout, cancellationToken);
        }
        using (response)
        using (timeout)
        {
            string body;
            try
            {
                body = await response.Content.ReadAsStringAsync(timeout.Token);
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                body = "";
            }
            throw readError((int)response.StatusCode, MaskCredentials(body, request, target.Config), RetryAfterSeconds(response));
        }
    }

    private static readonly string[] CredentialHeaders = ["Authorization", "x-api-key", "api-key", "x-goog-api-key", "X-Amz-Security-Token"];

    // A provider refusing a credential often quotes it back ("Incorrect API key provided: sk-..."), and its
    // message travels on into client errors, logs and traces: every credential the request carried is masked.
    public static string MaskCredentials(string body, HttpRequestMessage request, ProviderConfig config)
    {
        if (body.Length == 0)
        {
            return body;
        }
        var secrets = new List<string?> { config.ApiKey, config.Aws?.SecretAccessKey, config.Aws?.SessionToken };
        secrets.AddRange(config.Headers.Values);
        foreach (var name in CredentialHeaders)
        {
            if (request.Headers.NonValidated.TryGetValues(name, out var values))
            {
                // `Bearer TOKEN`, `AWS4-HMAC-SHA256 ..., Signature=HEX`: the last word is the secret part.
                secrets.AddRange(values.Select(v => v[(v.LastIndexOf(' ') + 1)..]));
            }
        }
        foreach (var secret in secrets)
        {
            if (secret is { Length: >= 8 })
            {
                body = body.Replace(secret, "***", StringComparison.Ordinal);
            }
        }
        return body;
    }

    public static async Task<JsonDocument> ReadJsonAsync(UpstreamCall call, ProviderTarget target)
    {
        try
        {
            await using var stream = await call.Response.Content.ReadAsStreamAsync(call.Token);
            return await JsonDocument.ParseAsync(stream, default, call.Token);
        }
        catch (JsonException)
        {
            throw new GatewayException(ErrorKind.UpstreamError, $"Provider '{target.ProviderName}' returned a body that is not valid JSON.");
        }
        catch (Exception e) when (StreamErrors.ReadFailure(target, e, call.TimedOut, "answer") is { } failure)
        {
            throw failure;
        }
    }

    // Shared classification of a provider's HTTP error; adapters pass what they parsed from the body.
    public static GatewayException Classify(string provider, int status, string? message, string? type, string? code, int? retryAfterSeconds)
    {
        var text = $"{message} {type} {code}";
        var upstreamMessage = string.IsNullOrWhiteSpace(message) ? $"status {status}" : message;
        if (LooksLikeContextLength(text))
        {
            return new GatewayException(ErrorKind.ContextLengthExceeded, $"The request exceeds the model's context window: {upstreamMessage}", "messages") { UpstreamStatus = status };
        }
        if (LooksLikeContentPolicy(text))
        {
            return new GatewayException(ErrorKind.ContentPolicy, $"The provider refused the content: {upstreamMessage}") { UpstreamStatus = status };
        }
        return status switch
        {
            // The provider rejected the gateway's own credentials: never echo its message (it may quote the key).
            401 or 403 => new GatewayException(ErrorKind.UpstreamAuthentication, $"Provider '{provider}' rejected the gateway's credentials (status {status}).") { UpstreamStatus = status },
            404 => new GatewayException(ErrorKind.UpstreamError, $"Provider '{provider}' does not know the configured model (status 404): {upstreamMessage}") { UpstreamStatus = status },
            408 or 504 => new GatewayException(ErrorKind.UpstreamTimeout, $"Provider '{provider}' timed out (status {status}).") { UpstreamStatus = status },
            413 => new GatewayException(ErrorKind.RequestTooLarge, $"The provider says the request is too large: {upstreamMessage}") { UpstreamStatus = status },
            429 => new GatewayException(ErrorKind.UpstreamRateLimited, $"Provider '{provider}' is rate limiting: {upstreamMessage}") { UpstreamStatus = status, RetryAfterSeconds = retryAfterSeconds },
            >= 400 and < 500 => new GatewayException(ErrorKind.InvalidRequest, $"The provider rejected the request: {upstreamMessage}") { UpstreamStatus = status },
            _ => new GatewayException(ErrorKind.UpstreamError, $"Provider '{provider}' failed (status {status}).") { UpstreamStatus = status },
        };
    }

    private static bool LooksLikeContextLength(string text)
        => text.Contains("context_length", StringComparison.OrdinalIgnoreCase)
           || text.Contains("context length", StringComparison.OrdinalIgnoreCase)
           || text.Contains("context window", StringComparison.OrdinalIgnoreCase)
           || text.Contains("prompt is too long", StringComparison.OrdinalIgnoreCase)
           || text.Contains("maximum context", StringComparison.OrdinalIgnoreCase)
           || text.Contains("input token count", StringComparison.OrdinalIgnoreCase) && text.Contains("exceeds", StringComparison.OrdinalIgnoreCase);

    private static bool LooksLikeContentPolicy(string text)
        => text.Contains("content_policy", StringComparison.OrdinalIgnoreCase)
           || text.Contains("content_filter", StringComparison.OrdinalIgnoreCase)
           || text.Contains("content management policy", StringComparison.OrdinalIgnoreCase)
           || text.Contains("SAFETY", StringComparison.Ordinal);

    public static int? RetryAfterSeconds(HttpResponseMessage response)
    {
        if (response.Headers.RetryAfter is { } retryAfter)
        {
            if (retryAfter.Delta is { } delta)
            {
                return (int)Math.Ceiling(delta.TotalSeconds);
            }
            if (retryAfter.Date is { } date)
            {
                // Relative to the server's own clock (its Date header), so clock skew does not matter.
                return response.Headers.Date is { } now ? Math.Max(0, (int)Math.Ceiling((date - now).TotalSeconds)) : null;
            }
        }
        if (response.Headers.TryGetValues("retry-after-ms", out var ms) && double.TryParse(ms.FirstOrDefault(), System.Globalization.CultureInfo.InvariantCulture, out var millis))
        {
            return (int)Math.Ceiling(millis / 1000);
        }
        return null;
    }

    private static string Describe(HttpRequestException e) => e.HttpRequestError switch
    {
        HttpRequestError.NameResolutionError => "name resolution failed",
        HttpRequestError.ConnectionError => "connection failed",
        HttpRequestError.SecureConnectionError => "TLS handshake failed",
        HttpRequestError.ResponseEnded => "the connection closed early",
        _ => e.StatusCode is { } code ? $"status {(int)code}" : "transport error",
    };

    public static bool IsSuccess(HttpStatusCode status) => (int)status is >= 200 and < 300;
}
