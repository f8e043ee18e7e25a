using System.Runtime.CompilerServices;
using System.Text.Json;
using Gateway.Common.Errors;
using Gateway.Contracts.Inference.V1;

namespace Gateway.Router.Providers.OpenAI;

// OpenAI and every OpenAI-compatible server (vLLM, TGI, Ollama, LM Studio, Groq, Mistral, Together):
// `base_url` + /chat/completions, Bearer key. Azure OpenAI is the same wire format at another address.
public class OpenAiProvider(ProviderHttp http) : IChatProvider, IEmbeddingProvider
{
    public virtual string Kind => "openai";

    public async Task<ChatResponse> ChatAsync(ProviderTarget target, ChatRequest request, CancellationToken cancellationToken)
    {
        using var message = BuildRequest(target, "chat/completions", w => OpenAiChatCodec.WriteRequest(w, request, target.UpstreamModel, stream: false));
        using var call = await http.SendAsync(target, message, streaming: false, (status, body, retry) => ReadError(target, status, body, retry), cancellationToken);
        using var document = await ProviderHttp.ReadJsonAsync(call, target);
        return OpenAiChatCodec.ReadResponse(document.RootElement);
    }

    public async IAsyncEnumerable<ChatChunk> StreamAsync(ProviderTarget target, ChatRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var message = BuildRequest(target, "chat/completions", w => OpenAiChatCodec.WriteRequest(w, request, target.UpstreamModel, stream: true));
        using var call = await http.SendAsync(target, message, streaming: true, (status, body, retry) => ReadError(target, status, body, retry), cancellationToken);
        await using var body = await call.Response.Content.ReadAsStreamAsync(call.Token);
        var sawFinish = false;
        await foreach (var sse in StreamErrors.Guard(target, SseReader.ReadAsync(body, call.Token), call.Token, cancellationToken))
        {
            if (sse.Data == "[DONE]")
            {
                yield break;
            }
            ChatChunk chunk;
            using (var document = ParseChunk(target, sse.Data))
            {
                if (document.RootElement.TryGetProperty("error", out var error))
                {
                    throw ReadError(target, 500, document.RootElement.GetRawText(), null);
                }
                chunk = OpenAiChatCodec.ReadChunk(document.RootElement);
            }
            sawFinish |= chunk.Choices.Any(c => c.FinishReason != FinishReason.Unspecified);
            yield return chunk;
        }
        if (!sawFinish)
        {
            // The connection closed before the model finished and without [DONE]: not a success.
            throw new GatewayException(ErrorKind.UpstreamError, $"Provider '{target.ProviderName}' ended the stream before it finished.");
        }
    }

    public async Task<EmbedResponse> EmbedAsync(ProviderTarget target, EmbedRequest request, CancellationToken cancellationToken)
    {
        using var message = BuildRequest(target, "embeddings", w => OpenAiEmbeddingsCodec.WriteRequest(w, request, target.UpstreamModel));
        using var call = await http.SendAsync(target, message, streaming: false, (status, body, retry) => ReadError(target, status, body, retry), cancellationToken);
        using var document = await ProviderHttp.ReadJsonAsync(call, target);
        return OpenAiEmbeddingsCodec.ReadResponse(document.RootElement);
    }

    protected virtual Uri Endpoint(ProviderTarget target, string operation)
        => new($"{target.Config.BaseUrl.TrimEnd('/')}/{operation}");

    protected virtual void Authorize(HttpRequestMessage message, ProviderTarget target)
    {
        if (!string.IsNullOrEmpty(target.Config.ApiKey))
        {
            message.Headers.TryAddWithoutValidation("Authorization", "Bearer " + target.Config.ApiKey);
        }
    }

    private HttpRequestMessage BuildRequest(ProviderTarget target, string operation, Action<Utf8JsonWriter> write)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, Endpoint(target, operation)) { Content = ProviderHttp.JsonContent(write) };
        Authorize(message, target);
        foreach (var (name, value) in target.Config.Headers)
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }
        return message;
    }

    private static JsonDocument ParseChunk(ProviderTarget target, string data)
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

    // OpenAI error body: {"error": {"message", "type", "param", "code"}}.
    public static GatewayException ReadError(ProviderTarget target, int status, string body, int? retryAfter)
    {
        string? message = null, type = null, code = null;
        try
        {
            using var document = JsonDocument.Parse(body);
            var error = JsonRead.OptObject(document.RootElement, "error");
            message = JsonRead.OptString(error, "message");
            type = JsonRead.OptString(error, "type");
            code = JsonRead.OptString(error, "code");
        }
        catch (JsonException)
        {
            // Not JSON (a proxy's HTML page, say): classify by status alone.
        }
        return ProviderHttp.Classify(target.ProviderName, status, message, type, code, retryAfter);
    }
}

// Azure OpenAI: deployments in the path, `api-version` in the query, the key in `api-key`.
public sealed class AzureOpenAiProvider(ProviderHttp http) : OpenAiProvider(http)
{
    public override string Kind => "azure-openai";

    protected override Uri Endpoint(ProviderTarget target, string operation)
        => new($"{target.Config.BaseUrl.TrimEnd('/')}/openai/deployments/{Uri.EscapeDataString(target.UpstreamModel)}/{operation}?api-version={Uri.EscapeDataString(target.Config.ApiVersion ?? "")}");

    protected override void Authorize(HttpRequestMessage message, ProviderTarget target)
    {
        if (!string.IsNullOrEmpty(target.Config.ApiKey))
        {
            message.Headers.TryAddWithoutValidation("api-key", target.Config.ApiKey);
        }
    }
}
