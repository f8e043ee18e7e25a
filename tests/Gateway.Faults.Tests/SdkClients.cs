using System.ClientModel;
using System.ClientModel.Primitives;
using OpenAI;
using OpenAI.Chat;

namespace Gateway.Faults.Tests;

// The official OpenAI client pointed at a gateway, with the SDK's own retries off (a retry would hide which
// answer the gateway gave) and a network timeout that turns a hang into a test failure instead of a stuck run.
public static class SdkClients
{
    public static ChatClient Chat(Uri gateway, string model, string requestId, ResponseHeaders? headers = null, string key = TestGateway.DefaultKey)
    {
        var options = new OpenAIClientOptions
        {
            Endpoint = new Uri(gateway, "/v1"),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = TimeSpan.FromSeconds(30),
        };
        options.AddPolicy(new RequestIdPolicy(requestId, headers), PipelinePosition.PerCall);
        return new OpenAIClient(new ApiKeyCredential(key), options).GetChatClient(model);
    }

    // Sets x-request-id (so the test can find the trace) and keeps the response headers, which a streaming
    // result does not expose otherwise.
    private sealed class RequestIdPolicy(string requestId, ResponseHeaders? headers) : PipelinePolicy
    {
        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set("x-request-id", requestId);
            ProcessNext(message, pipeline, currentIndex);
            headers?.Capture(message.Response);
        }

        public override async ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set("x-request-id", requestId);
            await ProcessNextAsync(message, pipeline, currentIndex);
            headers?.Capture(message.Response);
        }
    }
}

public sealed class ResponseHeaders
{
    private readonly Dictionary<string, string> _values = new(StringComparer.OrdinalIgnoreCase);

    public string this[string name] => _values.TryGetValue(name, out var value) ? value : "";

    public void Capture(PipelineResponse? response)
    {
        if (response is null)
        {
            return;
        }
        foreach (var (name, value) in response.Headers)
        {
            _values[name] = value;
        }
    }
}
