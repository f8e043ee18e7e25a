using System.Runtime.CompilerServices;
using System.Text.Json;
using Gateway.Common.Errors;
using Gateway.Contracts.Inference.V1;
using Gateway.Router.Providers.Anthropic;
using Gateway.Router.Providers.Gemini;

namespace Gateway.Router.Providers.Vertex;

// Google Vertex AI: Gemini models through `publishers/google/models/{model}:generateContent` and
// `:streamGenerateContent?alt=sse` (the Gemini wire format), and Claude through
// `publishers/anthropic/models/{model}:rawPredict` / `:streamRawPredict` (the Anthropic Messages format with
// `anthropic_version` in the body instead of a model). Calls carry a service account's OAuth access token.
// The host comes from the region (or base_url), the project from the configuration, never from a client.
public sealed class VertexProvider(ProviderHttp http, GoogleTokenSource tokens, TimeProvider time) : IChatProvider
{
    public const string AnthropicVersion = "vertex-2023-10-16";

    public string Kind => "vertex";

    public async Task<ChatResponse> ChatAsync(ProviderTarget target, ChatRequest request, CancellationToken cancellationToken)
    {
        var (publisher, model) = Publisher(target.UpstreamModel);
        var anthropic = publisher == "anthropic";
        using var message = await BuildRequestAsync(target, publisher, model, anthropic ? "rawPredict" : "generateContent",
            w => Write(w, request, anthropic, stream: false), cancellationToken);
        using var call = await http.SendAsync(target, message, streaming: false, ErrorReader(target), cancellationToken);
        using var document = await ProviderHttp.ReadJsonAsync(call, target);
        var response = anthropic ? AnthropicCodec.ReadResponse(document.RootElement) : GeminiCodec.ReadResponse(document.RootElement);
        response.Created = time.GetUtcNow().ToUnixTimeSeconds();
        if (response.Model.Length == 0)
        {
            response.Model = model;
        }
        return response;
    }

    public async IAsyncEnumerable<ChatChunk> StreamAsync(ProviderTarget target, ChatRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var (publisher, model) = Publisher(target.UpstreamModel);
        var anthropic = publisher == "anthropic";
        using var message = await BuildRequestAsync(target, publisher, model, anthropic ? "streamRawPredict" : "streamGenerateContent?alt=sse",
            w => Write(w, request, anthropic, stream: true), cancellationToken);
        using var call = await http.SendAsync(target, message, streaming: true, ErrorReader(target), cancellationToken);
        await using var body = await call.Response.Content.ReadAsStreamAsync(call.Token);
        var created = time.GetUtcNow().ToUnixTimeSeconds();
        var chunks = anthropic
            ? AnthropicProvider.ReadStreamAsync(target, body, created, call.Token, cancellationToken)
            : GeminiProvider.TranslateAsync(target with { UpstreamModel = model }, StreamErrors.Guard(target, SseReader.ReadAsync(body, call.Token), call.Token, cancellationToken), created, cancellationToken);
        await foreach (var chunk in chunks)
        {
            yield return chunk;
        }
    }

    // `anthropic/claude-sonnet-4@20250514` or `google/gemini-2.5-flash` name the publisher; a bare name is
    // Anthropic's when it is a Claude model, else Google's.
    internal static (string Publisher, string Model) Publisher(string upstreamModel)
    {
        var slash = upstreamModel.IndexOf('/');
        if (slash > 0)
        {
            return (upstreamModel[..slash], upstreamModel[(slash + 1)..]);
        }
        return (upstreamModel.StartsWith("claude", StringComparison.Ordinal) ? "anthropic" : "google", upstreamModel);
    }

    internal static Uri Endpoint(ProviderTarget target, string publisher, string model, string method)
    {
        var region = target.Config.Region!;
        var baseUrl = target.Config.BaseUrl.Length > 0 ? target.Config.BaseUrl.TrimEnd('/')
            : region == "global" ? "https://aiplatform.googleapis.com" : $"https://{region}-aiplatform.googleapis.com";
        return new Uri($"{baseUrl}/v1/projects/{Uri.EscapeDataString(target.Config.Project!)}/locations/{Uri.EscapeDataString(region)}/publishers/{Uri.EscapeDataString(publisher)}/models/{Uri.EscapeDataString(model)}:{method}");
    }

    private static void Write(Utf8JsonWriter w, ChatRequest request, bool anthropic, bool stream)
    {
        if (anthropic)
        {
            AnthropicCodec.WriteRequest(w, request, model: null, stream, AnthropicVersion);
        }
        else
        {
            GeminiCodec.WriteRequest(w, request);
        }
    }

    private async Task<HttpRequestMessage> BuildRequestAsync(ProviderTarget target, string publisher, string model, string method, Action<Utf8JsonWriter> write, CancellationToken cancellationToken)
    {
        var token = await tokens.GetTokenAsync(target.ProviderName, target.Config.Google, cancellationToken);
        var message = new HttpRequestMessage(HttpMethod.Post, Endpoint(target, publisher, model, method)) { Content = ProviderHttp.JsonContent(write) };
        foreach (var (name, value) in target.Config.Headers)
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }
        message.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
        return message;
    }

    // Vertex answers errors of its own (auth, quota, unknown model) as google.rpc.Status; errors raised by
    // Claude itself keep Anthropic's shape.
    private static ProviderHttp.ErrorReader ErrorReader(ProviderTarget target) => (status, body, retry) =>
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (JsonRead.OptObject(document.RootElement, "error") is { ValueKind: JsonValueKind.Object } error && error.TryGetProperty("code", out _))
            {
                return GeminiErrors.Read(target.ProviderName, status, body, retry);
            }
        }
        catch (JsonException)
        {
            // Classified by status below.
        }
        return AnthropicProvider.ReadError(target.ProviderName, status, body, retry);
    };
}
