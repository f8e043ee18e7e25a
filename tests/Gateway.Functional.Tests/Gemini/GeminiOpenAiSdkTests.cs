using System.ClientModel;
using System.Text.Json;
using Gateway.Testing.Fakes;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;

namespace Gateway.Functional.Tests.Gemini;

// The official OpenAI .NET SDK against the embedded gateway, for models served by a Gemini-wire fake.
public sealed class GeminiOpenAiSdkTests : IAsyncLifetime
{
    private const string UpstreamKey = "AIzaSy-upstream-secret-gemini";

    private FakeGemini _upstream = null!;
    private TestGateway _gateway = null!;

    public async ValueTask InitializeAsync()
    {
        _upstream = await FakeGemini.StartNewAsync(apiKey: UpstreamKey);
        _gateway = await TestGateway.StartAsync($$"""
            providers:
              gemini: { kind: gemini, base_url: "{{_upstream.Url}}", api_key: {{UpstreamKey}} }
            models:
              gemini-flash:
                targets: [{ provider: gemini, model: gemini-2.5-flash }]
                price: { input: 0.3, output: 2.5 }
              gemini-embedding:
                targets: [{ provider: gemini, model: gemini-embedding-001 }]
            keys:
            {{TestGateway.Key()}}
            """);
    }

    public async ValueTask DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private OpenAIClient Client()
        => new(new ApiKeyCredential(TestGateway.DefaultKey), new OpenAIClientOptions { Endpoint = new Uri(_gateway.HttpBase, "/v1") });

    private void AssertKeyInHeaderOnly(RecordedRequest sent)
    {
        Assert.Equal(UpstreamKey, sent.Headers["x-goog-api-key"]);
        Assert.DoesNotContain(UpstreamKey, sent.PathAndQuery, StringComparison.Ordinal);
        Assert.DoesNotContain("key=", sent.PathAndQuery, StringComparison.Ordinal);
        Assert.False(sent.Headers.ContainsKey("authorization"));
    }

    [Fact]
    public async Task Chat_NonStreaming_TranslatesBothWaysAndSendsKeyInHeader()
    {
        var chat = Client().GetChatClient("gemini-flash");

        ChatCompletion completion = await chat.CompleteChatAsync(
            [new SystemChatMessage("Be brief."), new UserChatMessage("Hello there")],
            new ChatCompletionOptions { Temperature = 0.5f, MaxOutputTokenCount = 100 },
            TestContext.Current.CancellationToken);

        Assert.Equal("Echo: Hello there", completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(11, completion.Usage.InputTokenCount);
        Assert.Equal(7, completion.Usage.OutputTokenCount);
        var sent = _upstream.LastRequest;
        Assert.Equal("/v1beta/models/gemini-2.5-flash:generateContent", sent.PathAndQuery);
        AssertKeyInHeaderOnly(sent);
        using var body = JsonDocument.Parse(sent.Body);
        var root = body.RootElement;
        Assert.Equal("Be brief.", root.GetProperty("systemInstruction").GetProperty("parts")[0].GetProperty("text").GetString());
        var contents = root.GetProperty("contents");
        Assert.Equal(1, contents.GetArrayLength());
        Assert.Equal("user", contents[0].GetProperty("role").GetString());
        Assert.Equal(0.5, root.GetProperty("generationConfig").GetProperty("temperature").GetDouble());
        Assert.Equal(100, root.GetProperty("generationConfig").GetProperty("maxOutputTokens").GetInt32());
    }

    [Fact]
    public async Task Chat_Streaming_DeliversTextInOrderAndFinalUsage()
    {
        _upstream.Replies.Enqueue(FakeReply.Say("Grüße aus 世界 😀 — streamed!"));
        var chat = Client().GetChatClient("gemini-flash");

        var text = new System.Text.StringBuilder();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("stream please")], new ChatCompletionOptions(), TestContext.Current.CancellationToken))
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
        var sent = _upstream.LastRequest;
        Assert.Equal("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", sent.PathAndQuery);
        AssertKeyInHeaderOnly(sent);
    }

    [Fact]
    public async Task Chat_ToolRoundTrip_CallsToolThenSendsFunctionResponseByName()
    {
        var chat = Client().GetChatClient("gemini-flash");
        var weather = ChatTool.CreateFunctionTool("get_weather", "Current weather for a city",
            BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"""));
        var options = new ChatCompletionOptions { Tools = { weather }, ToolChoice = ChatToolChoice.CreateRequiredChoice() };
        // Gemini sends no call id: the gateway makes one up.
        _upstream.Replies.Enqueue(FakeReply.Call("", "get_weather", """{"city":"Paris"}"""));

        List<ChatMessage> messages = [new UserChatMessage("Weather in Paris?")];
        ChatCompletion first = await chat.CompleteChatAsync(messages, options, TestContext.Current.CancellationToken);

        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        var call = Assert.Single(first.ToolCalls);
        Assert.Equal("call_0", call.Id);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.Equal("Paris", JsonDocument.Parse(call.FunctionArguments).RootElement.GetProperty("city").GetString());
        using (var sentTools = JsonDocument.Parse(_upstream.LastRequest.Body))
        {
            var declaration = sentTools.RootElement.GetProperty("tools")[0].GetProperty("functionDeclarations")[0];
            Assert.Equal("get_weather", declaration.GetProperty("name").GetString());
            Assert.Equal("object", declaration.GetProperty("parametersJsonSchema").GetProperty("type").GetString());
            Assert.Equal("ANY", sentTools.RootElement.GetProperty("toolConfig").GetProperty("functionCallingConfig").GetProperty("mode").GetString());
        }

        messages.Add(new AssistantChatMessage(first));
        messages.Add(new ToolChatMessage(call.Id, """{"temp_c":21}"""));
        _upstream.Replies.Enqueue(FakeReply.Say("It is 21 °C in Paris."));
        ChatCompletion second = await chat.CompleteChatAsync(messages, options, TestContext.Current.CancellationToken);

        Assert.Equal("It is 21 °C in Paris.", second.Content[0].Text);
        using var sent = JsonDocument.Parse(_upstream.LastRequest.Body);
        var contents = sent.RootElement.GetProperty("contents");
        Assert.Equal(3, contents.GetArrayLength());
        Assert.Equal("model", contents[1].GetProperty("role").GetString());
        var functionCall = contents[1].GetProperty("parts")[0].GetProperty("functionCall");
        Assert.Equal("get_weather", functionCall.GetProperty("name").GetString());
        Assert.Equal("Paris", functionCall.GetProperty("args").GetProperty("city").GetString());
        Assert.Equal("user", contents[2].GetProperty("role").GetString());
        var functionResponse = contents[2].GetProperty("parts")[0].GetProperty("functionResponse");
        Assert.Equal("get_weather", functionResponse.GetProperty("name").GetString());
        Assert.Equal(21, functionResponse.GetProperty("response").GetProperty("temp_c").GetInt32());
    }

    [Fact]
    public async Task Chat_StreamingToolCall_ArgumentsArriveWhole()
    {
        _upstream.Replies.Enqueue(FakeReply.Call("", "lookup", """{"query":"näive café","limit":3}"""));
        var chat = Client().GetChatClient("gemini-flash");
        var options = new ChatCompletionOptions { Tools = { ChatTool.CreateFunctionTool("lookup", "Search", BinaryData.FromString("""{"type":"object"}""")) } };

        var arguments = new System.Text.StringBuilder();
        string? name = null, id = null;
        ChatFinishReason? finish = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("find it")], options, TestContext.Current.CancellationToken))
        {
            foreach (var call in update.ToolCallUpdates)
            {
                name ??= call.FunctionName;
                id ??= call.ToolCallId;
                arguments.Append(call.FunctionArgumentsUpdate?.ToString());
            }
            finish = update.FinishReason ?? finish;
        }

        Assert.Equal("lookup", name);
        Assert.Equal("call_0", id);
        Assert.Equal("""{"query":"näive café","limit":3}""", arguments.ToString());
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
    }

    [Fact]
    public async Task Embeddings_ReturnVectorsPerInputFromBatchEmbedContents()
    {
        var embeddings = Client().GetEmbeddingClient("gemini-embedding");

        OpenAIEmbeddingCollection result = await embeddings.GenerateEmbeddingsAsync(["one", "three"], new EmbeddingGenerationOptions { Dimensions = 4 }, TestContext.Current.CancellationToken);

        Assert.Equal(2, result.Count);
        Assert.Equal(4, result[0].ToFloats().Length);
        Assert.NotEqual(result[0].ToFloats().ToArray(), result[1].ToFloats().ToArray());
        var sent = _upstream.LastRequest;
        Assert.Equal("/v1beta/models/gemini-embedding-001:batchEmbedContents", sent.PathAndQuery);
        AssertKeyInHeaderOnly(sent);
    }

    [Fact]
    public async Task Chat_UpstreamContextTooLong_Is400ContextLengthExceeded()
    {
        _upstream.Replies.Enqueue(FakeReply.Error(400, FakeGemini.ErrorBody(400, "INVALID_ARGUMENT", "The input token count (1250000) exceeds the maximum number of tokens allowed (1048576).")));
        var chat = Client().GetChatClient("gemini-flash");

        var error = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("a very long prompt")], cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(400, error.Status);
        using var body = JsonDocument.Parse(error.GetRawResponse()!.Content);
        Assert.Equal("context_length_exceeded", body.RootElement.GetProperty("error").GetProperty("code").GetString());
    }
}
