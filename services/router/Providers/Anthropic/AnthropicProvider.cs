using System.Runtime.CompilerServices;
using System.Text.Json;
using Gateway.Common.Errors;
using Gateway.Contracts.Inference.V1;

namespace Gateway.Router.Providers.Anthropic;

// Anthropic's Messages API: `base_url` + /v1/messages, the key in `x-api-key`, the API version pinned in
// `anthropic-version` so the wire format cannot change under the gateway.
public sealed class AnthropicProvider(ProviderHttp http, TimeProvider time) : IChatProvider
{
    public string Kind => "anthropic";

    public async Task<ChatResponse> ChatAsync(ProviderTarget target, ChatRequest request, CancellationToken cancellationToken)
    {
        using var message = BuildRequest(target, request, stream: false);
        using var call = await http.SendAsync(target, message, streaming: false, (status, body, retry) => ReadError(target.ProviderName, status, body, retry), cancellationToken);
        using var document = await ProviderHttp.ReadJsonAsync(call, target);
        var response = AnthropicCodec.ReadResponse(document.RootElement);
        response.Created = time.GetUtcNow().ToUnixTimeSeconds();
        return response;
    }

    public async IAsyncEnumerable<ChatChunk> StreamAsync(ProviderTarget target, ChatRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var message = BuildRequest(target, request, stream: true);
        using var call = await http.SendAsync(target, message, streaming: true, (status, body, retry) => ReadError(target.ProviderName, status, body, retry), cancellationToken);
        await using var body = await call.Response.Content.ReadAsStreamAsync(call.Token);
        await foreach (var chunk in ReadStreamAsync(target, body, time.GetUtcNow().ToUnixTimeSeconds(), call.Token, cancellationToken))
        {
            yield return chunk;
        }
    }

    // The event stream of one answer -> neutral chunks; separate from the HTTP call so it can be fed any stream.
    public static async IAsyncEnumerable<ChatChunk> ReadStreamAsync(ProviderTarget target, Stream body, long created, CancellationToken timeoutToken, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var decoder = new AnthropicStreamDecoder(target.ProviderName, created);
        await foreach (var sse in StreamErrors.Guard(target, SseReader.ReadAsync(body, timeoutToken), timeoutToken, cancellationToken))
        {
            ChatChunk? chunk;
            using (var document = ParseEvent(target, sse.Data))
            {
                chunk = decoder.Read(sse.Event, document.RootElement);
            }
            if (chunk is not null)
            {
                yield return chunk;
            }
            if (decoder.Completed)
            {
                yield break;
            }
        }
        // The connection closed without message_stop: the answer may be cut short, so it is not a success.
        throw new GatewayException(ErrorKind.UpstreamError, $"Provider '{target.ProviderName}' ended the stream before it finished.");
    }

    private static HttpRequestMessage BuildRequest(ProviderTarget target, ChatRequest request, bool stream)
    {
        // base_url is Anthropic's host (https://api.anthropic.com); a base_url that already ends in /v1 works too.
        var baseUrl = target.Config.BaseUrl.TrimEnd('/');
        var path = baseUrl.EndsWith("/v1", StringComparison.Ordinal) ? "/messages" : "/v1/messages";
        var message = new HttpRequestMessage(HttpMethod.Post, new Uri(baseUrl + path))
        {
            Content = ProviderHttp.JsonContent(w => AnthropicCodec.WriteRequest(w, request, target.UpstreamModel, stream)),
        };
        if (!string.IsNullOrEmpty(target.Config.ApiKey))
        {
            message.Headers.TryAddWithoutValidation("x-api-key", target.Config.ApiKey);
        }
        message.Headers.TryAddWithoutValidation("anthropic-version", AnthropicCodec.ApiVersion);
        foreach (var (name, value) in target.Config.Headers)
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }
        return message;
    }

    private static JsonDocument ParseEvent(ProviderTarget target, string data)
    {
        try
        {
            return JsonDocument.Parse(data);
        }
        catch (JsonException)
        {
            throw new GatewayException(ErrorKind.UpstreamError, $"Provider '{target.ProviderName}' sent a stream event that is not valid JSON.");
        }
    }

    // Anthropic error body: {"type": "error", "error": {"type", "message"}}.
    public static GatewayException ReadError(string provider, int status, string body, int? retryAfter)
    {
        string? message = null, type = null;
        try
        {
            using var document = JsonDocument.Parse(body);
            var error = JsonRead.OptObject(document.RootElement, "error");
            message = JsonRead.OptString(error, "message");
            type = JsonRead.OptString(error, "type");
        }
        catch (JsonException)
        {
            // Not JSON (a proxy's HTML page, say): classify by status alone.
        }
        if (status == 529 || type == "overloaded_error")
        {
            // Anthropic is out of capacity: another deployment may well answer, and clients know this type.
            return new GatewayException(ErrorKind.Unavailable, $"Provider '{provider}' is overloaded; try again shortly.", code: "upstream_overloaded")
            {
                UpstreamStatus = status,
                RetryAfterSeconds = retryAfter,
            };
        }
        return ProviderHttp.Classify(provider, status, message, type, null, retryAfter);
    }
}
