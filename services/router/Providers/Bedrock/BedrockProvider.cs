using System.Runtime.CompilerServices;
using System.Text.Json;
using Gateway.Common.Errors;
using Gateway.Contracts.Inference.V1;

namespace Gateway.Router.Providers.Bedrock;

// Amazon Bedrock's Converse and ConverseStream APIs (bedrock-runtime): `/model/{modelId}/converse` and
// `/converse-stream`, signed with AWS SigV4 for the configured region, or sent with a Bedrock API key as a
// bearer token when `api_key` is set. The endpoint comes from the region (or base_url), never from a client.
public sealed class BedrockProvider(ProviderHttp http, AwsCredentialSource credentials, TimeProvider time) : IChatProvider
{
    public const string SigningService = "bedrock";

    public string Kind => "bedrock";

    public async Task<ChatResponse> ChatAsync(ProviderTarget target, ChatRequest request, CancellationToken cancellationToken)
    {
        using var message = await BuildRequestAsync(target, request, "converse", cancellationToken);
        using var call = await http.SendAsync(target, message, streaming: false, ErrorReader(target), cancellationToken);
        using var document = await ProviderHttp.ReadJsonAsync(call, target);
        return BedrockCodec.ReadResponse(document.RootElement, RequestId(call.Response), target.UpstreamModel, time.GetUtcNow().ToUnixTimeSeconds());
    }

    public async IAsyncEnumerable<ChatChunk> StreamAsync(ProviderTarget target, ChatRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var message = await BuildRequestAsync(target, request, "converse-stream", cancellationToken);
        using var call = await http.SendAsync(target, message, streaming: true, ErrorReader(target), cancellationToken);
        await using var body = await call.Response.Content.ReadAsStreamAsync(call.Token);
        await foreach (var chunk in ReadStreamAsync(target, body, RequestId(call.Response), time.GetUtcNow().ToUnixTimeSeconds(), call.Token, cancellationToken))
        {
            yield return chunk;
        }
    }

    // The event stream of one answer -> neutral chunks; separate from the HTTP call so it can be fed any stream.
    public static async IAsyncEnumerable<ChatChunk> ReadStreamAsync(ProviderTarget target, Stream body, string id, long created, CancellationToken timeoutToken, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var stream = new BedrockStream(id, target.UpstreamModel, created);
        await foreach (var message in StreamErrors.Guard(target, EventStreamReader.ReadAsync(body, timeoutToken), timeoutToken, cancellationToken))
        {
            var messageType = message.Header(":message-type");
            if (messageType == "exception")
            {
                // The exception's name decides its class (throttlingException -> 429, validationException -> 400).
                throw BedrockErrors.Read(target.ProviderName, 500, message.Header(":exception-type"), Text(message), null);
            }
            if (messageType == "error")
            {
                throw BedrockErrors.Read(target.ProviderName, 500, message.Header(":error-code"), JsonSerializer.Serialize(new { message = message.Header(":error-message") }), null);
            }
            ChatChunk? chunk;
            using (var document = Parse(target, message.Payload))
            {
                chunk = stream.Read(message.Header(":event-type") ?? "", document.RootElement);
            }
            if (chunk is not null)
            {
                yield return chunk;
            }
            if (stream.Completed)
            {
                yield break;
            }
        }
        if (!stream.Stopped)
        {
            // The connection closed before messageStop: the answer may be cut short, so it is not a success.
            throw new GatewayException(ErrorKind.UpstreamError, $"Provider '{target.ProviderName}' ended the stream before it finished.");
        }
    }

    internal static Uri Endpoint(ProviderTarget target, string operation)
    {
        var baseUrl = target.Config.BaseUrl.Length > 0 ? target.Config.BaseUrl.TrimEnd('/') : $"https://bedrock-runtime.{target.Config.Region}.amazonaws.com";
        // Model ids and ARNs hold ':' and '/': one path segment, escaped.
        return new Uri($"{baseUrl}/model/{Uri.EscapeDataString(target.UpstreamModel)}/{operation}");
    }

    private async Task<HttpRequestMessage> BuildRequestAsync(ProviderTarget target, ChatRequest request, string operation, CancellationToken cancellationToken)
    {
        var body = ProviderHttp.JsonBytes(w => BedrockCodec.WriteRequest(w, request));
        var message = new HttpRequestMessage(HttpMethod.Post, Endpoint(target, operation)) { Content = ProviderHttp.JsonContent(body) };
        message.Headers.TryAddWithoutValidation("Accept", operation == "converse" ? "application/json" : "application/vnd.amazon.eventstream");
        foreach (var (name, value) in target.Config.Headers)
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }
        if (!string.IsNullOrEmpty(target.Config.ApiKey))
        {
            // A Bedrock API key replaces SigV4.
            message.Headers.TryAddWithoutValidation("Authorization", "Bearer " + target.Config.ApiKey);
            return message;
        }
        try
        {
            var keys = await credentials.GetAsync(target.ProviderName, target.Config.Aws, cancellationToken);
            SigV4Signer.Sign(message, body.Span, keys, target.Config.Region!, SigningService, time.GetUtcNow());
            return message;
        }
        catch
        {
            message.Dispose();
            throw;
        }
    }

    private static ProviderHttp.ErrorReader ErrorReader(ProviderTarget target)
        => (status, body, retry) => BedrockErrors.Read(target.ProviderName, status, null, body, retry);

    private static string RequestId(HttpResponseMessage response)
        => response.Headers.TryGetValues("x-amzn-RequestId", out var values) ? values.FirstOrDefault() ?? "" : "";

    private static string Text(EventStreamMessage message) => System.Text.Encoding.UTF8.GetString(message.Payload.Span);

    private static JsonDocument Parse(ProviderTarget target, ReadOnlyMemory<byte> payload)
    {
        try
        {
            return JsonDocument.Parse(payload);
        }
        catch (JsonException)
        {
            throw new GatewayException(ErrorKind.UpstreamError, $"Provider '{target.ProviderName}' sent a stream event that is not valid JSON.");
        }
    }
}
