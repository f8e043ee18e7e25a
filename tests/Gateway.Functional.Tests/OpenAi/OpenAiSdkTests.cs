using System.ClientModel;
using System.Text.Json;
using Gateway.Testing.Fakes;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;

namespace Gateway.Functional.Tests.OpenAi;

// The official OpenAI .NET SDK against the embedded gateway, with an OpenAI-wire fake upstream.
public sealed class OpenAiSdkTests : IAsyncLifetime
{
    private FakeOpenAi _upstream = null!;
    private TestGateway _gateway = null!;

    public async ValueTask InitializeAsync()
    {
        _upstream = await FakeOpenAi.StartNewAsync();
        _gateway = await TestGateway.StartAsync($$"""
            providers:
              openai: { kind: openai, base_url: "{{_upstream.Url}}v1", api_key: sk-upstream-secret }
            models:
              gpt-4o:
                targets: [{ provider: openai, model: gpt-4o-2024-08-06 }]
                price: { input: 2.5, output: 10 }
              text-embedding-3-small:
                targets: [{ provider: openai, model: text-embedding-3-small }]
            keys:
            {{TestGateway.Key()}}
              - { name: limited, key: "limited-key-0123456789", team: qa, models: [text-embedding-3-small] }
            """);
    }

    public async ValueTask DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private OpenAIClient Client(string key = TestGateway.DefaultKey)
        => new(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(_gateway.HttpBase, "/v1") });

    [Fact]
    public async Task Chat_NonStreaming_ReturnsUpstreamAnswerAndSendsProviderKeyNotClientKey()
    {
        var chat = Client().GetChatClient("gpt-4o");

        ChatCompletion completion = await chat.CompleteChatAsync([new SystemChatMessage("Be brief."), new UserChatMessage("Hello there")], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("Echo: Hello there", completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(11, completion.Usage.InputTokenCount);
        Assert.Equal(7, completion.Usage.OutputTokenCount);
        var sent = _upstream.LastRequest;
        Assert.Equal("Bearer sk-upstream-secret", sent.Headers["authorization"]);
        using var body = JsonDocument.Parse(sent.Body);
        Assert.Equal("gpt-4o-2024-08-06", body.RootElement.GetProperty("model").GetString());
        Assert.Equal("system", body.RootElement.GetProperty("messages")[0].GetProperty("role").GetString());
    }

    [Fact]
    public async Task Chat_Streaming_DeliversTextInOrderAndFinalUsage()
    {
        _upstream.Replies.Enqueue(FakeReply.Say("Grüße aus 世界 😀 — streamed!"));
        var chat = Client().GetChatClient("gpt-4o");

        var text = new System.Text.StringBuilder();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("stream please")], cancellationToken: TestContext.Current.CancellationToken))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
            usage = update.Usage ?? usage;
            finish = update.FinishReason ?? finish;
        }

        Assert.Equal("Grüße aus 世界 😀 — streamed!", text.ToString());
        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.NotNull(usage);
        Assert.Equal(11, usage.InputTokenCount);
        Assert.Equal(7, usage.OutputTokenCount);
    }

    [Fact]
    public async Task Chat_ToolRoundTrip_CallsToolThenAnswersWithResult()
    {
        var chat = Client().GetChatClient("gpt-4o");
        var weather = ChatTool.CreateFunctionTool("get_weather", "Current weather for a city",
            BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"""));
        var options = new ChatCompletionOptions { Tools = { weather } };
        _upstream.Replies.Enqueue(FakeReply.Call("call_abc", "get_weather", """{"city":"Paris"}"""));

        List<ChatMessage> messages = [new UserChatMessage("Weather in Paris?")];
        ChatCompletion first = await chat.CompleteChatAsync(messages, options, TestContext.Current.CancellationToken);

        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        var call = Assert.Single(first.ToolCalls);
        Assert.Equal("call_abc", call.Id);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.Equal("Paris", JsonDocument.Parse(call.FunctionArguments).RootElement.GetProperty("city").GetString());
        using (var sentTools = JsonDocument.Parse(_upstream.LastRequest.Body))
        {
            var tool = sentTools.RootElement.GetProperty("tools")[0];
            Assert.Equal("get_weather", tool.GetProperty("function").GetProperty("name").GetString());
            Assert.Equal("object", tool.GetProperty("function").GetProperty("parameters").GetProperty("type").GetString());
        }

        messages.Add(new AssistantChatMessage(first));
        messages.Add(new ToolChatMessage("call_abc", """{"temp_c":21}"""));
        _upstream.Replies.Enqueue(FakeReply.Say("It is 21 °C in Paris."));
        ChatCompletion second = await chat.CompleteChatAsync(messages, options, TestContext.Current.CancellationToken);

        Assert.Equal("It is 21 °C in Paris.", second.Content[0].Text);
        using var sent = JsonDocument.Parse(_upstream.LastRequest.Body);
        var sentMessages = sent.RootElement.GetProperty("messages");
        Assert.Equal("call_abc", sentMessages[1].GetProperty("tool_calls")[0].GetProperty("id").GetString());
        Assert.Equal("tool", sentMessages[2].GetProperty("role").GetString());
        Assert.Equal("call_abc", sentMessages[2].GetProperty("tool_call_id").GetString());
        Assert.Equal("""{"temp_c":21}""", sentMessages[2].GetProperty("content").GetString());
    }

    [Fact]
    public async Task Chat_StreamingToolCall_ArgumentsArriveWhole()
    {
        _upstream.Replies.Enqueue(FakeReply.Call("call_s1", "lookup", """{"query":"näive café","limit":3}"""));
        var chat = Client().GetChatClient("gpt-4o");
        var options = new ChatCompletionOptions { Tools = { ChatTool.CreateFunctionTool("lookup", "Search", BinaryData.FromString("""{"type":"object"}""")) } };

        var arguments = new System.Text.StringBuilder();
        string? name = null, id = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("find it")], options, TestContext.Current.CancellationToken))
        {
            foreach (var call in update.ToolCallUpdates)
            {
                name ??= call.FunctionName;
                id ??= call.ToolCallId;
                arguments.Append(call.FunctionArgumentsUpdate?.ToString());
            }
        }

        Assert.Equal("lookup", name);
        Assert.Equal("call_s1", id);
        Assert.Equal("""{"query":"näive café","limit":3}""", arguments.ToString());
    }

    [Fact]
    public async Task Embeddings_ReturnVectorsPerInput()
    {
        var embeddings = Client().GetEmbeddingClient("text-embedding-3-small");

        OpenAIEmbeddingCollection result = await embeddings.GenerateEmbeddingsAsync(["one", "three"], new EmbeddingGenerationOptions { Dimensions = 4 }, TestContext.Current.CancellationToken);

        Assert.Equal(2, result.Count);
        Assert.Equal(4, result[0].ToFloats().Length);
        Assert.NotEqual(result[0].ToFloats().ToArray(), result[1].ToFloats().ToArray());
    }

    [Fact]
    public async Task Models_ListsOnlyWhatTheKeyMayUse()
    {
        var all = await Client().GetOpenAIModelClient().GetModelsAsync(TestContext.Current.CancellationToken);
        var limited = await Client("limited-key-0123456789").GetOpenAIModelClient().GetModelsAsync(TestContext.Current.CancellationToken);

        Assert.Equal(["gpt-4o", "text-embedding-3-small"], all.Value.Select(m => m.Id).Order());
        Assert.Equal(["text-embedding-3-small"], limited.Value.Select(m => m.Id));
    }

    [Fact]
    public async Task Chat_WrongKey_Is401InOpenAiShapeWithoutCallingUpstream()
    {
        var chat = Client("not-a-real-key-000000").GetChatClient("gpt-4o");

        var error = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(401, error.Status);
        Assert.Equal(0, _upstream.CallCount);
        using var body = JsonDocument.Parse(error.GetRawResponse()!.Content);
        var shape = body.RootElement.GetProperty("error");
        Assert.Equal("invalid_api_key", shape.GetProperty("code").GetString());
        Assert.Equal("authentication_error", shape.GetProperty("type").GetString());
        Assert.True(shape.TryGetProperty("param", out _));
        Assert.True(shape.TryGetProperty("message", out _));
    }
}
