using System.ClientModel;
using System.Text;
using System.Text.Json;
using Gateway.Testing.Fakes;
using OpenAI;
using OpenAI.Chat;

namespace Gateway.Functional.Tests.Anthropic;

// The official OpenAI .NET SDK against /v1/chat/completions for a model that an Anthropic upstream serves:
// the OpenAI shape in, the Anthropic wire out, and back.
public sealed class OpenAiSdkOverAnthropicTests : IAsyncLifetime
{
    private FakeAnthropic _upstream = null!;
    private TestGateway _gateway = null!;

    public async ValueTask InitializeAsync()
    {
        _upstream = await FakeAnthropic.StartNewAsync("sk-ant-upstream-secret");
        _gateway = await TestGateway.StartAsync($$"""
            providers:
              anthropic: { kind: anthropic, base_url: "{{_upstream.Url}}", api_key: sk-ant-upstream-secret }
            models:
              claude-sonnet-4:
                targets: [{ provider: anthropic, model: claude-sonnet-4-20250514 }]
            keys:
            {{TestGateway.Key()}}
            """);
    }

    public async ValueTask DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private ChatClient Chat()
        => new OpenAIClient(new ApiKeyCredential(TestGateway.DefaultKey), new OpenAIClientOptions { Endpoint = new Uri(_gateway.HttpBase, "/v1") }).GetChatClient("claude-sonnet-4");

    [Fact]
    public async Task Chat_NonStreaming_TranslatesToMessagesAndBack()
    {
        ChatCompletion completion = await Chat().CompleteChatAsync(
            [new SystemChatMessage("Be brief."), new UserChatMessage("Hello Claude")],
            new ChatCompletionOptions { Temperature = 0.3f, MaxOutputTokenCount = 200, StopSequences = { "###" }, EndUserId = "alice" },
            TestContext.Current.CancellationToken);

        Assert.Equal("Echo: Hello Claude", completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal((11, 7), (completion.Usage.InputTokenCount, completion.Usage.OutputTokenCount));
        Assert.Equal("claude-sonnet-4-20250514", completion.Model);
        using var body = JsonDocument.Parse(_upstream.LastRequest.Body);
        var root = body.RootElement;
        Assert.Equal("Be brief.", root.GetProperty("system").GetString());
        Assert.Equal(1, root.GetProperty("messages").GetArrayLength());
        Assert.Equal(200, root.GetProperty("max_tokens").GetInt32());
        Assert.Equal(0.3, root.GetProperty("temperature").GetDouble(), 5);
        Assert.Equal("###", root.GetProperty("stop_sequences")[0].GetString());
        Assert.Equal("alice", root.GetProperty("metadata").GetProperty("user_id").GetString());
    }

    [Fact]
    public async Task Chat_Streaming_DeliversTextInOrderAndFinalUsage()
    {
        _upstream.Replies.Enqueue(FakeReply.Say("Grüße aus 世界 😀 — streamed!"));

        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        var updates = 0;
        await foreach (var update in Chat().CompleteChatStreamingAsync([new UserChatMessage("stream please")], cancellationToken: TestContext.Current.CancellationToken))
        {
            updates++;
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
            usage = update.Usage ?? usage;
            finish = update.FinishReason ?? finish;
        }

        Assert.Equal("Grüße aus 世界 😀 — streamed!", text.ToString());
        Assert.True(updates > 3);
        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.NotNull(usage);
        Assert.Equal((11, 7), (usage.InputTokenCount, usage.OutputTokenCount));
        using var body = JsonDocument.Parse(_upstream.LastRequest.Body);
        Assert.True(body.RootElement.GetProperty("stream").GetBoolean());
        Assert.Equal(4096, body.RootElement.GetProperty("max_tokens").GetInt32());
    }

    [Fact]
    public async Task Chat_ToolRoundTrip_BecomesToolUseAndToolResultBlocks()
    {
        var chat = Chat();
        var weather = ChatTool.CreateFunctionTool("get_weather", "Current weather for a city",
            BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"""));
        var options = new ChatCompletionOptions { Tools = { weather }, ToolChoice = ChatToolChoice.CreateRequiredChoice(), AllowParallelToolCalls = false };
        _upstream.Replies.Enqueue(FakeReply.Call("toolu_abc", "get_weather", """{"city":"Paris"}"""));

        List<ChatMessage> messages = [new UserChatMessage("Weather in Paris?")];
        ChatCompletion first = await chat.CompleteChatAsync(messages, options, TestContext.Current.CancellationToken);

        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        var call = Assert.Single(first.ToolCalls);
        Assert.Equal(("toolu_abc", "get_weather"), (call.Id, call.FunctionName));
        Assert.Equal("Paris", JsonDocument.Parse(call.FunctionArguments).RootElement.GetProperty("city").GetString());
        using (var sentTools = JsonDocument.Parse(_upstream.LastRequest.Body))
        {
            var tool = sentTools.RootElement.GetProperty("tools")[0];
            Assert.Equal("get_weather", tool.GetProperty("name").GetString());
            Assert.Equal("object", tool.GetProperty("input_schema").GetProperty("type").GetString());
            Assert.Equal("""{"type":"any","disable_parallel_tool_use":true}""", sentTools.RootElement.GetProperty("tool_choice").GetRawText());
        }

        messages.Add(new AssistantChatMessage(first));
        messages.Add(new ToolChatMessage("toolu_abc", """{"temp_c":21}"""));
        messages.Add(new UserChatMessage("And in Fahrenheit?"));
        _upstream.Replies.Enqueue(FakeReply.Say("About 70 °F."));
        ChatCompletion second = await chat.CompleteChatAsync(messages, options, TestContext.Current.CancellationToken);

        Assert.Equal("About 70 °F.", second.Content[0].Text);
        using var sent = JsonDocument.Parse(_upstream.LastRequest.Body);
        var sentMessages = sent.RootElement.GetProperty("messages");
        Assert.Equal(3, sentMessages.GetArrayLength());
        var use = sentMessages[1].GetProperty("content")[0];
        Assert.Equal(("tool_use", "toolu_abc"), (use.GetProperty("type").GetString(), use.GetProperty("id").GetString()));
        Assert.Equal("Paris", use.GetProperty("input").GetProperty("city").GetString());
        // The tool result and the next user text share one user turn, as Anthropic requires.
        var userTurn = sentMessages[2];
        Assert.Equal("user", userTurn.GetProperty("role").GetString());
        var result = userTurn.GetProperty("content")[0];
        Assert.Equal(("tool_result", "toolu_abc", """{"temp_c":21}"""), (result.GetProperty("type").GetString(), result.GetProperty("tool_use_id").GetString(), result.GetProperty("content").GetString()));
        Assert.Equal("And in Fahrenheit?", userTurn.GetProperty("content")[1].GetProperty("text").GetString());
    }

    [Fact]
    public async Task Chat_StreamingToolCall_ArgumentsArriveWhole()
    {
        _upstream.Replies.Enqueue(FakeReply.Call("toolu_s1", "lookup", """{"query":"näive café","limit":3}"""));
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

        Assert.Equal(("lookup", "toolu_s1"), (name, id));
        Assert.Equal("""{"query":"näive café","limit":3}""", arguments.ToString());
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
    }

    [Fact]
    public async Task Chat_UpstreamRateLimited_Is429WithRetryAfter()
    {
        _upstream.Replies.Enqueue(FakeReply.Error(429, """{"type":"error","error":{"type":"rate_limit_error","message":"Too many requests"}}""") with
        {
            Headers = new Dictionary<string, string> { ["retry-after"] = "12" },
        });
        var client = new OpenAIClient(new ApiKeyCredential(TestGateway.DefaultKey), new OpenAIClientOptions
        {
            Endpoint = new Uri(_gateway.HttpBase, "/v1"),
            RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(maxRetries: 0),
        }).GetChatClient("claude-sonnet-4");

        var error = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(429, error.Status);
        Assert.Equal("12", error.GetRawResponse()!.Headers.TryGetValue("retry-after", out var retry) ? retry : null);
    }
}
