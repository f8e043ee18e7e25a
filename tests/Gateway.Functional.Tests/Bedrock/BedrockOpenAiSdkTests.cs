using System.ClientModel;
using System.Text;
using System.Text.Json;
using Gateway.Testing.Fakes;
using OpenAI;
using OpenAI.Chat;

namespace Gateway.Functional.Tests.Bedrock;

// The official OpenAI .NET SDK against the embedded gateway, for models served by Amazon Bedrock (the fake
// verifies every SigV4 signature), and failover from a throttled Bedrock deployment to Claude on Vertex AI.
public sealed class BedrockOpenAiSdkTests : IAsyncLifetime
{
    private const string KeyId = "AKIAGATEWAYFUNCTEST01";
    private const string Secret = "functional/test/secret/0123456789abcdefg";
    private const string Model = "anthropic.claude-3-5-haiku-20241022-v1:0";

    private FakeBedrock _bedrock = null!;
    private FakeVertex _vertex = null!;
    private TestGateway _gateway = null!;
    private string _keyFile = null!;

    public async ValueTask InitializeAsync()
    {
        _bedrock = await FakeBedrock.StartNewAsync(KeyId, Secret);
        _vertex = await FakeVertex.StartNewAsync();
        _keyFile = Path.Combine(Path.GetTempPath(), $"vertex-sa-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(_keyFile, _vertex.ServiceAccountJson(), TestContext.Current.CancellationToken);
        _gateway = await TestGateway.StartAsync($$"""
            providers:
              bedrock:
                kind: bedrock
                region: us-east-1
                base_url: "{{_bedrock.Url}}"
                aws: { access_key_id: {{KeyId}}, secret_access_key: "{{Secret}}" }
              vertex:
                kind: vertex
                region: {{_vertex.Location}}
                project: {{_vertex.Project}}
                base_url: "{{_vertex.Url}}"
                google: { service_account_file: "{{_keyFile}}" }
            models:
              claude-haiku:
                targets: [{ provider: bedrock, model: "{{Model}}" }]
                fallbacks: [claude-vertex]
                price: { input: 0.8, output: 4 }
              claude-vertex:
                targets: [{ provider: vertex, model: "claude-3-5-haiku@20241022" }]
                price: { input: 0.8, output: 4 }
            keys:
            {{TestGateway.Key()}}
            """);
    }

    public async ValueTask DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _bedrock.DisposeAsync();
        await _vertex.DisposeAsync();
        File.Delete(_keyFile);
    }

    private ChatClient Chat() => new OpenAIClient(new ApiKeyCredential(TestGateway.DefaultKey), new OpenAIClientOptions { Endpoint = new Uri(_gateway.HttpBase, "/v1") }).GetChatClient("claude-haiku");

    private static string Header(ClientResult result, string name)
        => result.GetRawResponse().Headers.TryGetValue(name, out var value) ? value! : "";

    [Fact]
    public async Task Chat_NonStreaming_SignedConverseCallTranslatedBothWays()
    {
        var completion = await Chat().CompleteChatAsync(
            [new SystemChatMessage("Be brief."), new UserChatMessage("Hello Bedrock")],
            new ChatCompletionOptions { MaxOutputTokenCount = 200, Temperature = 0.2f },
            TestContext.Current.CancellationToken);

        Assert.Equal("Echo: Hello Bedrock", completion.Value.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, completion.Value.FinishReason);
        Assert.Equal((11, 7), (completion.Value.Usage.InputTokenCount, completion.Value.Usage.OutputTokenCount));
        Assert.Equal("bedrock", Header(completion, "x-gateway-provider"));
        Assert.Equal(Model, Assert.Single(_bedrock.Models));
        using var sent = JsonDocument.Parse(_bedrock.LastRequest.Body);
        Assert.Equal("Be brief.", sent.RootElement.GetProperty("system")[0].GetProperty("text").GetString());
        Assert.Equal(200, sent.RootElement.GetProperty("inferenceConfig").GetProperty("maxTokens").GetInt32());
        Assert.StartsWith($"AWS4-HMAC-SHA256 Credential={KeyId}/", _bedrock.LastRequest.Headers["authorization"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chat_Streaming_EventStreamBecomesSseWithUsage()
    {
        _bedrock.Replies.Enqueue(FakeReply.Say("Grüße aus 世界 😀 — über Bedrock!"));

        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        await foreach (var update in Chat().CompleteChatStreamingAsync([new UserChatMessage("stream please")], new ChatCompletionOptions(), TestContext.Current.CancellationToken))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
            usage = update.Usage ?? usage;
            finish = update.FinishReason ?? finish;
        }

        Assert.Equal("Grüße aus 世界 😀 — über Bedrock!", text.ToString());
        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.Equal((11, 7), (usage?.InputTokenCount, usage?.OutputTokenCount));
        Assert.EndsWith("/converse-stream", _bedrock.LastRequest.PathAndQuery, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chat_ToolRoundTrip_ToolUseAndToolResultBlocks()
    {
        var weather = ChatTool.CreateFunctionTool("get_weather", "Current weather for a city",
            BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"""));
        var options = new ChatCompletionOptions { Tools = { weather }, ToolChoice = ChatToolChoice.CreateRequiredChoice() };
        _bedrock.Replies.Enqueue(FakeReply.Call("tooluse_7Kq", "get_weather", """{"city":"Paris"}"""));

        List<ChatMessage> messages = [new UserChatMessage("Weather in Paris?")];
        ChatCompletion first = await Chat().CompleteChatAsync(messages, options, TestContext.Current.CancellationToken);

        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        var call = Assert.Single(first.ToolCalls);
        Assert.Equal(("tooluse_7Kq", "get_weather"), (call.Id, call.FunctionName));
        Assert.Equal("Paris", JsonDocument.Parse(call.FunctionArguments).RootElement.GetProperty("city").GetString());
        using (var sentTools = JsonDocument.Parse(_bedrock.LastRequest.Body))
        {
            var toolConfig = sentTools.RootElement.GetProperty("toolConfig");
            Assert.Equal("get_weather", toolConfig.GetProperty("tools")[0].GetProperty("toolSpec").GetProperty("name").GetString());
            Assert.True(toolConfig.GetProperty("toolChoice").TryGetProperty("any", out _));
        }

        messages.Add(new AssistantChatMessage(first));
        messages.Add(new ToolChatMessage(call.Id, """{"temp_c":21}"""));
        _bedrock.Replies.Enqueue(FakeReply.Say("It is 21 °C in Paris."));
        ChatCompletion second = await Chat().CompleteChatAsync(messages, options, TestContext.Current.CancellationToken);

        Assert.Equal("It is 21 °C in Paris.", second.Content[0].Text);
        using var sent = JsonDocument.Parse(_bedrock.LastRequest.Body);
        var turns = sent.RootElement.GetProperty("messages");
        Assert.Equal(3, turns.GetArrayLength());
        Assert.Equal("tooluse_7Kq", turns[1].GetProperty("content")[0].GetProperty("toolUse").GetProperty("toolUseId").GetString());
        var result = turns[2].GetProperty("content")[0].GetProperty("toolResult");
        Assert.Equal("tooluse_7Kq", result.GetProperty("toolUseId").GetString());
        Assert.Equal("""{"temp_c":21}""", result.GetProperty("content")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task Chat_StreamingToolCall_ArgumentsAssembleFromToolUseDeltas()
    {
        _bedrock.Replies.Enqueue(FakeReply.Call("tooluse_s1", "lookup", """{"query":"näive café","limit":3}"""));
        var options = new ChatCompletionOptions { Tools = { ChatTool.CreateFunctionTool("lookup", "Search", BinaryData.FromString("""{"type":"object"}""")) } };

        var arguments = new StringBuilder();
        string? name = null, id = null;
        ChatFinishReason? finish = null;
        await foreach (var update in Chat().CompleteChatStreamingAsync([new UserChatMessage("find it")], options, TestContext.Current.CancellationToken))
        {
            foreach (var call in update.ToolCallUpdates)
            {
                name ??= call.FunctionName;
                id ??= call.ToolCallId;
                arguments.Append(call.FunctionArgumentsUpdate?.ToString());
            }
            finish = update.FinishReason ?? finish;
        }

        Assert.Equal(("tooluse_s1", "lookup"), (id, name));
        Assert.Equal("""{"query":"näive café","limit":3}""", arguments.ToString());
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
    }

    [Fact]
    public async Task Chat_BedrockThrottled_FailsOverToClaudeOnVertex()
    {
        _bedrock.Replies.Enqueue(FakeBedrock.Throttled());

        var completion = await Chat().CompleteChatAsync([new UserChatMessage("Anyone there?")], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("Echo: Anyone there?", completion.Value.Content[0].Text);
        Assert.Equal("claude-vertex", Header(completion, "x-gateway-model"));
        Assert.Equal("vertex", Header(completion, "x-gateway-provider"));
        Assert.Equal("2", Header(completion, "x-gateway-attempts"));
        Assert.Equal(1, _bedrock.CallCount);
        Assert.EndsWith("/publishers/anthropic/models/claude-3-5-haiku@20241022:rawPredict", _vertex.LastRequest.PathAndQuery, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chat_StreamBedrockThrottled_FailsOverBeforeTheFirstToken()
    {
        _bedrock.Replies.Enqueue(FakeBedrock.Throttled());
        _vertex.Anthropic.Replies.Enqueue(FakeReply.Say("Vertex answered the stream."));

        var text = new StringBuilder();
        await foreach (var update in Chat().CompleteChatStreamingAsync([new UserChatMessage("stream")], new ChatCompletionOptions(), TestContext.Current.CancellationToken))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }

        Assert.Equal("Vertex answered the stream.", text.ToString());
        Assert.EndsWith(":streamRawPredict", _vertex.LastRequest.PathAndQuery, StringComparison.Ordinal);
    }
}
