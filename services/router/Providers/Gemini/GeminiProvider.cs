using System.Runtime.CompilerServices;
using System.Text.Json;
using Gateway.Common.Errors;
using Gateway.Contracts.Inference.V1;

namespace Gateway.Router.Providers.Gemini;

// The Google Gemini API (generativelanguage.googleapis.com, v1beta): `models/{model}:generateContent`,
// `:streamGenerateContent?alt=sse` and `:batchEmbedContents`. The key travels in `x-goog-api-key`, never in
// the query string, so it cannot end up in access logs or traces that record URLs.
public sealed class GeminiProvider(ProviderHttp http, TimeProvider time) : IChatProvider, IEmbeddingProvider
{
    public string Kind => "gemini";

    public async Task<ChatResponse> ChatAsync(ProviderTarget target, ChatRequest request, CancellationToken cancellationToken)
    {
        using var message = BuildRequest(target, "generateContent", w => GeminiCodec.WriteRequest(w, request));
        using var call = await http.SendAsync(target, message, streaming: false, (status, body, retry) => GeminiErrors.Read(target.ProviderName, status, body, retry), cancellationToken);
        using var document = await ProviderHttp.ReadJsonAsync(call, target);
        var response = GeminiCodec.ReadResponse(document.RootElement);
        if (response.Model.Length == 0)
        {
            response.Model = target.UpstreamModel;
        }
        return response;
    }

    public async IAsyncEnumerable<ChatChunk> StreamAsync(ProviderTarget target, ChatRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var message = BuildRequest(target, "streamGenerateContent?alt=sse", w => GeminiCodec.WriteRequest(w, request));
        using var call = await http.SendAsync(target, message, streaming: true, (status, body, retry) => GeminiErrors.Read(target.ProviderName, status, body, retry), cancellationToken);
        await using var body = await call.Response.Content.ReadAsStreamAsync(call.Token);
        var events = StreamErrors.Guard(target, SseReader.ReadAsync(body, call.Token), call.Token, cancellationToken);
        await foreach (var chunk in TranslateAsync(target, events, time.GetUtcNow().ToUnixTimeSeconds(), cancellationToken))
        {
            yield return chunk;
        }
    }

    // The SSE events of one stream -> neutral chunks: content, one finish chunk per candidate, then usage.
    internal static async IAsyncEnumerable<ChatChunk> TranslateAsync(ProviderTarget target, IAsyncEnumerable<SseEvent> events, long created, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var stream = new GeminiStream(created, target.UpstreamModel);
        await foreach (var sse in events.WithCancellation(cancellationToken))
        {
            IReadOnlyList<ChatChunk> chunks;
            using (var document = ParseEvent(target, sse.Data))
            {
                var root = document.RootElement;
                if (root.TryGetProperty("error", out var error))
                {
                    var status = JsonRead.OptInt(error, "code");
                    throw GeminiErrors.Read(target.ProviderName, status >= 400 ? status : 500, root.GetRawText(), null);
                }
                chunks = stream.Read(root);
            }
            foreach (var chunk in chunks)
            {
                yield return chunk;
            }
        }
        if (!stream.Finished)
        {
            // The connection closed before the model gave a finish reason: not a success.
            throw new GatewayException(ErrorKind.UpstreamError, $"Provider '{target.ProviderName}' ended the stream before it finished.");
        }
        if (stream.UsageChunk() is { } usage)
        {
            yield return usage;
        }
    }

    public async Task<EmbedResponse> EmbedAsync(ProviderTarget target, EmbedRequest request, CancellationToken cancellationToken)
    {
        var model = ModelName(target);
        using var message = BuildRequest(target, "batchEmbedContents", w => GeminiCodec.WriteEmbedRequest(w, request, model));
        using var call = await http.SendAsync(target, message, streaming: false, (status, body, retry) => GeminiErrors.Read(target.ProviderName, status, body, retry), cancellationToken);
        using var document = await ProviderHttp.ReadJsonAsync(call, target);
        var response = GeminiCodec.ReadEmbedResponse(document.RootElement, model);
        if (response.Data.Count != request.Input.Count)
        {
            throw new GatewayException(ErrorKind.UpstreamError, $"Provider '{target.ProviderName}' returned {response.Data.Count} embeddings for {request.Input.Count} inputs.");
        }
        return response;
    }

    // Operators may write the model as `gemini-2.5-flash` or as its resource name `models/gemini-2.5-flash`.
    private static string ModelName(ProviderTarget target)
        => target.UpstreamModel.StartsWith("models/", StringComparison.Ordinal) ? target.UpstreamModel["models/".Length..] : target.UpstreamModel;

    internal static Uri Endpoint(ProviderTarget target, string method)
    {
        var baseUrl = target.Config.BaseUrl.TrimEnd('/');
        // The documented base_url is the host; a base_url that already names the API version is used as is.
        if (!baseUrl.EndsWith("/v1beta", StringComparison.Ordinal) && !baseUrl.EndsWith("/v1", StringComparison.Ordinal))
        {
            baseUrl += "/v1beta";
        }
        return new Uri($"{baseUrl}/models/{Uri.EscapeDataString(ModelName(target))}:{method}");
    }

    private static HttpRequestMessage BuildRequest(ProviderTarget target, string method, Action<Utf8JsonWriter> write)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, Endpoint(target, method)) { Content = ProviderHttp.JsonContent(write) };
        if (!string.IsNullOrEmpty(target.Config.ApiKey))
        {
            message.Headers.TryAddWithoutValidation("x-goog-api-key", target.Config.ApiKey);
        }
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
}
