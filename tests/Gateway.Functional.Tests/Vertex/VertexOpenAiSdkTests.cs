using System.ClientModel;
using System.Text;
using System.Text.Json;
using Gateway.Testing.Fakes;
using OpenAI;
using OpenAI.Chat;

namespace Gateway.Functional.Tests.Vertex;

// The official OpenAI .NET SDK against the embedded gateway, for Gemini and Claude served by Vertex AI with
// a service account whose key travels in the configuration as ${ENV}-style JSON.
public sealed class VertexOpenAiSdkTests : IAsyncLifetime
{
    private FakeVertex _vertex = null!;
    private TestGateway _gateway = null!;

    public async ValueTask InitializeAsync()
    {
        _vertex = await FakeVertex.StartNewAsync();
        // The key JSON written inline (single-quoted YAML), as ${VERTEX_SA_JSON} would put it there.
        var json = _vertex.ServiceAccountJson().Replace("'", "''", StringComparison.Ordinal);
        _gateway = await TestGateway.StartAsync($$"""
            providers:
              vertex:
                kind: vertex
                region: {{_vertex.Location}}
                project: {{_vertex.Project}}
                base_url: "{{_vertex.Url}}"
                google: { service_account_json: '{{json}}' }
            models:
              gemini-flash:
                targets: [{ provider: vertex, model: gemini-2.5-flash }]
              claude-sonnet:
                targets: [{ provider: vertex, model: "anthropic/claude-sonnet-4@20250514" }]
            keys:
            {{TestGateway.Key()}}
            """);
    }

    public async ValueTask DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _vertex.DisposeAsync();
    }

    private ChatClient Chat(string model) => new OpenAIClient(new ApiKeyCredential(TestGateway.DefaultKey), new OpenAIClientOptions { Endpoint = new Uri(_gateway.HttpBase, "/v1") }).GetChatClient(model);

    [Fact]
    public async Task Chat_Gemini_NonStreamingThroughGenerateContentWithAnAccessToken()
    {
        var completion = await Chat("gemini-flash").CompleteChatAsync([new UserChatMessage("Hello Vertex")], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("Echo: Hello Vertex", completion.Value.Content[0].Text);
        Assert.Equal((11, 7), (completion.Value.Usage.InputTokenCount, completion.Value.Usage.OutputTokenCount));
        Assert.EndsWith("/publishers/google/models/gemini-2.5-flash:generateContent", _vertex.LastRequest.PathAndQuery, StringComparison.Ordinal);
        Assert.StartsWith("Bearer ya29.fake-", _vertex.LastRequest.Headers["authorization"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chat_GeminiStreaming_DeliversTextAndUsage()
    {
        _vertex.Gemini.Replies.Enqueue(FakeReply.Say("Streamed by Gemini on Vertex."));

        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        await foreach (var update in Chat("gemini-flash").CompleteChatStreamingAsync([new UserChatMessage("go")], new ChatCompletionOptions(), TestContext.Current.CancellationToken))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
            usage = update.Usage ?? usage;
        }

        Assert.Equal("Streamed by Gemini on Vertex.", text.ToString());
        Assert.Equal(7, usage?.OutputTokenCount);
        Assert.EndsWith(":streamGenerateContent?alt=sse", _vertex.LastRequest.PathAndQuery, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chat_ClaudeToolCall_ThroughRawPredict()
    {
        _vertex.Anthropic.Replies.Enqueue(FakeReply.Call("toolu_v1", "get_weather", """{"city":"Madrid"}"""));
        var options = new ChatCompletionOptions { Tools = { ChatTool.CreateFunctionTool("get_weather", "Weather", BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}}}""")) } };

        ChatCompletion completion = await Chat("claude-sonnet").CompleteChatAsync([new UserChatMessage("Weather in Madrid?")], options, TestContext.Current.CancellationToken);

        Assert.Equal(ChatFinishReason.ToolCalls, completion.FinishReason);
        var call = Assert.Single(completion.ToolCalls);
        Assert.Equal(("toolu_v1", "get_weather"), (call.Id, call.FunctionName));
        Assert.Equal("Madrid", JsonDocument.Parse(call.FunctionArguments).RootElement.GetProperty("city").GetString());
        using var sent = JsonDocument.Parse(_vertex.LastRequest.Body);
        Assert.Equal("vertex-2023-10-16", sent.RootElement.GetProperty("anthropic_version").GetString());
        Assert.False(sent.RootElement.TryGetProperty("model", out _));
    }

    [Fact]
    public async Task Chat_TwoRequests_ShareOneAccessToken()
    {
        await Chat("gemini-flash").CompleteChatAsync([new UserChatMessage("one")], cancellationToken: TestContext.Current.CancellationToken);
        await Chat("claude-sonnet").CompleteChatAsync([new UserChatMessage("two")], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(1, _vertex.TokensIssued);
    }
}
