using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Anthropic;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;
using Gateway.Testing.Fakes;

namespace Gateway.Functional.Tests.Anthropic;

// The official Anthropic .NET SDK against the gateway's /v1/messages, served by an Anthropic-wire fake and,
// through cross-provider translation, by an OpenAI-wire fake.
public sealed class AnthropicSdkTests : IAsyncLifetime
{
    private const string Claude = "claude-sonnet-4";
    private const string Gpt = "gpt-4o";
    private const string AnthropicUpstreamKey = "sk-ant-upstream-secret";

    private FakeAnthropic _anthropic = null!;
    private FakeOpenAi _openAi = null!;
    private TestGateway _gateway = null!;

    public async ValueTask InitializeAsync()
    {
        _anthropic = await FakeAnthropic.StartNewAsync(AnthropicUpstreamKey);
        _openAi = await FakeOpenAi.StartNewAsync();
        _gateway = await TestGateway.StartAsync($$"""
            providers:
              anthropic: { kind: anthropic, base_url: "{{_anthropic.Url}}", api_key: {{AnthropicUpstreamKey}} }
              openai: { kind: openai, base_url: "{{_openAi.Url}}v1", api_key: sk-openai-upstream }
            models:
              {{Claude}}:
                targets: [{ provider: anthropic, model: claude-sonnet-4-20250514 }]
                price: { input: 3, output: 15 }
              {{Gpt}}:
                targets: [{ provider: openai, model: gpt-4o-2024-08-06 }]
            keys:
            {{TestGateway.Key()}}
            """);
    }

    public async ValueTask DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _openAi.DisposeAsync();
        await _anthropic.DisposeAsync();
    }

    // The SDK retries 5xx and 429 on its own; the tests want to see the first answer.
    private AnthropicClient Client(string key = TestGateway.DefaultKey)
        => new() { ApiKey = key, BaseUrl = _gateway.HttpBase.ToString(), MaxRetries = 0 };

    private FakeUpstream Upstream(string model) => model == Claude ? _anthropic : _openAi;

    private void Enqueue(string model, FakeReply reply)
    {
        if (model == Claude)
        {
            _anthropic.Replies.Enqueue(reply);
        }
        else
        {
            _openAi.Replies.Enqueue(reply);
        }
    }

    [Fact]
    public async Task Messages_NonStreaming_ReturnsAnswerAndSendsProviderKeyNotClientKey()
    {
        var message = await Client().Messages.Create(new MessageCreateParams
        {
            Model = Claude,
            MaxTokens = 256,
            System = "Be brief.",
            Messages = [new UserMessageParam { Content = "Hello there" }],
        }, TestContext.Current.CancellationToken);

        Assert.StartsWith("msg_", message.ID, StringComparison.Ordinal);
        Assert.True(message.Content.Single().TryPickText(out var text));
        Assert.Equal("Echo: Hello there", text.Text);
        Assert.Equal(StopReason.EndTurn, message.StopReason!.Value());
        Assert.Equal("claude-sonnet-4-20250514", message.Model.Raw());
        Assert.Equal((11L, 7L), (message.Usage.InputTokens, message.Usage.OutputTokens));
        Assert.Equal(0L, message.Usage.CacheReadInputTokens);
        var sent = _anthropic.LastRequest;
        Assert.Equal(AnthropicUpstreamKey, sent.Headers["x-api-key"]);
        Assert.Equal("2023-06-01", sent.Headers["anthropic-version"]);
        Assert.DoesNotContain(TestGateway.DefaultKey, string.Join(" ", sent.Headers.Values), StringComparison.Ordinal);
        using var body = JsonDocument.Parse(sent.Body);
        Assert.Equal("claude-sonnet-4-20250514", body.RootElement.GetProperty("model").GetString());
        Assert.Equal(256, body.RootElement.GetProperty("max_tokens").GetInt32());
        Assert.Equal("Be brief.", body.RootElement.GetProperty("system").GetString());
    }

    [Fact]
    public async Task Messages_NonStreamingServedByOpenAi_TranslatesBothWays()
    {
        var message = await Client().Messages.Create(new MessageCreateParams
        {
            Model = Gpt,
            MaxTokens = 300,
            System = "Be brief.",
            StopSequences = ["###"],
            Messages = [new UserMessageParam { Content = "Hello OpenAI" }],
        }, TestContext.Current.CancellationToken);

        Assert.True(message.Content.Single().TryPickText(out var text));
        Assert.Equal("Echo: Hello OpenAI", text.Text);
        Assert.StartsWith("msg_", message.ID, StringComparison.Ordinal);
        Assert.Equal(StopReason.EndTurn, message.StopReason!.Value());
        Assert.Equal((11L, 7L), (message.Usage.InputTokens, message.Usage.OutputTokens));
        using var body = JsonDocument.Parse(_openAi.LastRequest.Body);
        var messages = body.RootElement.GetProperty("messages");
        Assert.Equal(("system", "Be brief."), (messages[0].GetProperty("role").GetString(), messages[0].GetProperty("content").GetString()));
        Assert.Equal(("user", "Hello OpenAI"), (messages[1].GetProperty("role").GetString(), messages[1].GetProperty("content").GetString()));
        Assert.Equal(300, body.RootElement.GetProperty("max_completion_tokens").GetInt32());
        Assert.Equal("###", body.RootElement.GetProperty("stop")[0].GetString());
        Assert.Equal("Bearer sk-openai-upstream", _openAi.LastRequest.Headers["authorization"]);
    }

    [Theory]
    [InlineData(Claude)]
    [InlineData(Gpt)]
    public async Task Messages_Streaming_DeliversTextInOrderThenStopReasonAndUsage(string model)
    {
        Enqueue(model, FakeReply.Say("Grüße aus 世界 😀 — streamed!"));

        var kinds = new List<string>();
        var text = new StringBuilder();
        RawMessageDeltaEvent? end = null;
        await foreach (var e in Client().Messages.CreateStreaming(new MessageCreateParams
        {
            Model = model,
            MaxTokens = 128,
            Messages = [new UserMessageParam { Content = "stream please" }],
        }, TestContext.Current.CancellationToken))
        {
            kinds.Add(e.Type.Raw());
            if (e.TryPickContentBlockDelta(out var delta) && delta.Delta.TryPickText(out var piece))
            {
                text.Append(piece.Text);
            }
            if (e.TryPickDelta(out var messageDelta))
            {
                end = messageDelta;
            }
        }

        Assert.Equal("Grüße aus 世界 😀 — streamed!", text.ToString());
        Assert.Equal("message_start", kinds[0]);
        Assert.Equal(["content_block_start"], kinds.Skip(1).Take(1));
        Assert.Equal(["content_block_stop", "message_delta", "message_stop"], kinds.TakeLast(3));
        Assert.NotNull(end);
        Assert.Equal(StopReason.EndTurn, end.Delta.StopReason!.Value());
        Assert.Equal(7L, end.Usage.OutputTokens);
        Assert.Equal(11L, end.Usage.InputTokens);
    }

    [Theory]
    [InlineData(Claude)]
    [InlineData(Gpt)]
    public async Task Messages_ToolRoundTrip_CallsToolThenAnswersWithResult(string model)
    {
        var client = Client();
        var weather = new Tool
        {
            Name = "get_weather",
            Description = "Current weather for a city",
            InputSchema = new InputSchema
            {
                Properties = new Dictionary<string, JsonElement> { ["city"] = JsonDocument.Parse("""{"type":"string"}""").RootElement },
                Required = ["city"],
            },
        };
        Enqueue(model, FakeReply.Call("toolu_abc", "get_weather", """{"city":"Paris"}"""));

        var first = await client.Messages.Create(new MessageCreateParams
        {
            Model = model,
            MaxTokens = 256,
            Tools = [weather],
            Messages = [new UserMessageParam { Content = "Weather in Paris?" }],
        }, TestContext.Current.CancellationToken);

        Assert.Equal(StopReason.ToolUse, first.StopReason!.Value());
        Assert.True(first.Content.Single(b => b.TryPickToolUse(out _)).TryPickToolUse(out var call));
        Assert.Equal(("toolu_abc", "get_weather"), (call.ID, call.Name));
        Assert.Equal("Paris", call.Input["city"].GetString());

        Enqueue(model, FakeReply.Say("It is 21 °C in Paris."));
        var second = await client.Messages.Create(new MessageCreateParams
        {
            Model = model,
            MaxTokens = 256,
            Tools = [weather],
            Messages =
            [
                new UserMessageParam { Content = "Weather in Paris?" },
                new AssistantMessageParam { Content = new List<ContentBlockParam> { new ToolUseBlockParam { ID = call.ID, Name = call.Name, Input = call.Input } } },
                new UserMessageParam { Content = new List<ContentBlockParam> { new ToolResultBlockParam { ToolUseID = call.ID, Content = """{"temp_c":21}""" } } },
            ],
        }, TestContext.Current.CancellationToken);

        Assert.True(second.Content.Single().TryPickText(out var answer));
        Assert.Equal("It is 21 °C in Paris.", answer.Text);
        using var sent = JsonDocument.Parse(Upstream(model).LastRequest.Body);
        var messages = sent.RootElement.GetProperty("messages");
        if (model == Claude)
        {
            var tool = sent.RootElement.GetProperty("tools")[0];
            Assert.Equal("string", tool.GetProperty("input_schema").GetProperty("properties").GetProperty("city").GetProperty("type").GetString());
            var use = messages[1].GetProperty("content")[0];
            Assert.Equal(("tool_use", "toolu_abc", "Paris"), (use.GetProperty("type").GetString(), use.GetProperty("id").GetString(), use.GetProperty("input").GetProperty("city").GetString()));
            var result = messages[2].GetProperty("content")[0];
            Assert.Equal(("tool_result", "toolu_abc", """{"temp_c":21}"""), (result.GetProperty("type").GetString(), result.GetProperty("tool_use_id").GetString(), result.GetProperty("content").GetString()));
        }
        else
        {
            Assert.Equal("get_weather", sent.RootElement.GetProperty("tools")[0].GetProperty("function").GetProperty("name").GetString());
            var toolCall = messages[1].GetProperty("tool_calls")[0];
            Assert.Equal("toolu_abc", toolCall.GetProperty("id").GetString());
            Assert.Equal("Paris", JsonDocument.Parse(toolCall.GetProperty("function").GetProperty("arguments").GetString()!).RootElement.GetProperty("city").GetString());
            Assert.Equal(("tool", "toolu_abc", """{"temp_c":21}"""), (messages[2].GetProperty("role").GetString(), messages[2].GetProperty("tool_call_id").GetString(), messages[2].GetProperty("content").GetString()));
        }
    }

    [Theory]
    [InlineData(Claude)]
    [InlineData(Gpt)]
    public async Task Messages_StreamingToolUse_InputJsonArrivesWhole(string model)
    {
        Enqueue(model, FakeReply.Call("toolu_s1", "lookup", """{"query":"näive café","limit":3}"""));

        string? id = null, name = null;
        var input = new StringBuilder();
        StopReason? stop = null;
        await foreach (var e in Client().Messages.CreateStreaming(new MessageCreateParams
        {
            Model = model,
            MaxTokens = 128,
            Tools = [new Tool { Name = "lookup", InputSchema = new InputSchema() }],
            Messages = [new UserMessageParam { Content = "find it" }],
        }, TestContext.Current.CancellationToken))
        {
            if (e.TryPickContentBlockStart(out var start) && start.ContentBlock.TryPickToolUse(out var use))
            {
                (id, name) = (use.ID, use.Name);
            }
            if (e.TryPickContentBlockDelta(out var delta) && delta.Delta.TryPickInputJson(out var json))
            {
                input.Append(json.PartialJson);
            }
            if (e.TryPickDelta(out var end))
            {
                stop = end.Delta.StopReason!.Value();
            }
        }

        Assert.Equal(("toolu_s1", "lookup"), (id, name));
        Assert.Equal("""{"query":"näive café","limit":3}""", input.ToString());
        Assert.Equal(StopReason.ToolUse, stop);
    }

    [Fact]
    public async Task Messages_ThinkingFromAnthropic_StaysASignedThinkingBlockApartFromText()
    {
        _anthropic.Replies.Enqueue(new FakeReply { Thinking = "Two plus two.", Text = "4" });
        _anthropic.Replies.Enqueue(new FakeReply { Thinking = "Two plus two.", Text = "4" });
        var request = new MessageCreateParams
        {
            Model = Claude,
            MaxTokens = 4096,
            Thinking = new ThinkingConfigEnabled { BudgetTokens = 2048 },
            Messages = [new UserMessageParam { Content = "2+2?" }],
        };

        var message = await Client().Messages.Create(request, TestContext.Current.CancellationToken);

        Assert.Equal(2, message.Content.Count);
        Assert.True(message.Content[0].TryPickThinking(out var thinking));
        Assert.Equal(("Two plus two.", FakeAnthropic.Signature), (thinking.Thinking, thinking.Signature));
        Assert.True(message.Content[1].TryPickText(out var text));
        Assert.Equal("4", text.Text);
        using (var sent = JsonDocument.Parse(_anthropic.LastRequest.Body))
        {
            Assert.Equal("""{"type":"enabled","budget_tokens":2048}""", sent.RootElement.GetProperty("thinking").GetRawText());
        }

        var blocks = new List<string>();
        var streamedThinking = new StringBuilder();
        var streamedText = new StringBuilder();
        string? signature = null;
        await foreach (var e in Client().Messages.CreateStreaming(request, TestContext.Current.CancellationToken))
        {
            if (e.TryPickContentBlockStart(out var start))
            {
                blocks.Add(start.ContentBlock.Type.Raw());
            }
            if (e.TryPickContentBlockDelta(out var delta))
            {
                if (delta.Delta.TryPickThinking(out var t))
                {
                    streamedThinking.Append(t.Thinking);
                }
                if (delta.Delta.TryPickText(out var x))
                {
                    streamedText.Append(x.Text);
                }
                if (delta.Delta.TryPickSignature(out var s))
                {
                    signature = s.Signature;
                }
            }
        }
        Assert.Equal(["thinking", "text"], blocks);
        Assert.Equal(("Two plus two.", "4", FakeAnthropic.Signature), (streamedThinking.ToString(), streamedText.ToString(), signature));
    }

    [Fact]
    public async Task Messages_KeyAsBearerToken_IsAccepted()
    {
        var client = new AnthropicClient { AuthToken = TestGateway.DefaultKey, BaseUrl = _gateway.HttpBase.ToString(), MaxRetries = 0 };

        var message = await client.Messages.Create(new MessageCreateParams
        {
            Model = Claude,
            MaxTokens = 16,
            Messages = [new UserMessageParam { Content = "token" }],
        }, TestContext.Current.CancellationToken);

        Assert.True(message.Content.Single().TryPickText(out var text));
        Assert.Equal("Echo: token", text.Text);
    }

    [Fact]
    public async Task Messages_WrongKey_Is401AuthenticationErrorInAnthropicShapeWithoutCallingUpstream()
    {
        var error = await Assert.ThrowsAsync<AnthropicUnauthorizedException>(() => Client("not-a-real-key-000000").Messages.Create(new MessageCreateParams
        {
            Model = Claude,
            MaxTokens = 16,
            Messages = [new UserMessageParam { Content = "hi" }],
        }, TestContext.Current.CancellationToken));

        Assert.Equal(HttpStatusCode.Unauthorized, error.StatusCode);
        Assert.Equal(0, _anthropic.CallCount);
        using var body = JsonDocument.Parse(error.ResponseBody);
        Assert.Equal("error", body.RootElement.GetProperty("type").GetString());
        Assert.Equal("authentication_error", body.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(body.RootElement.GetProperty("error").GetProperty("message").GetString()));
    }

    [Fact]
    public async Task Messages_UpstreamOverloaded_IsOverloadedErrorForTheClient()
    {
        _anthropic.Replies.Enqueue(FakeReply.Error(529, """{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"""));

        var error = await Assert.ThrowsAnyAsync<AnthropicApiException>(() => Client().Messages.Create(new MessageCreateParams
        {
            Model = Claude,
            MaxTokens = 16,
            Messages = [new UserMessageParam { Content = "hi" }],
        }, TestContext.Current.CancellationToken));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, error.StatusCode);
        using var body = JsonDocument.Parse(error.ResponseBody);
        Assert.Equal("overloaded_error", body.RootElement.GetProperty("error").GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("{\"model\": \"claude-sonnet-4\", \"max_tokens\": 16, \"messages\": [", "invalid JSON")]
    [InlineData("""{"model":"claude-sonnet-4","messages":[{"role":"user","content":"hi"}]}""", "max_tokens")]
    [InlineData("""{"model":"claude-sonnet-4","max_tokens":"16","messages":[{"role":"user","content":"hi"}]}""", "max_tokens")]
    [InlineData("""{"model":"claude-sonnet-4","max_tokens":16,"messages":[{"role":"user","content":[{"type":"text","text":5}]}]}""", "messages[0].content[0].text")]
    [InlineData("""{"model":"claude-sonnet-4","max_tokens":16,"messages":"hi"}""", "messages")]
    public async Task Messages_MalformedBody_Is400InvalidRequestErrorInAnthropicShape(string json, string mentioned)
    {
        using var http = new HttpClient { BaseAddress = _gateway.HttpBase };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Add("x-api-key", TestGateway.DefaultKey);
        request.Headers.Add("anthropic-version", "2023-06-01");

        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.False(string.IsNullOrEmpty(response.Headers.GetValues("x-request-id").Single()));
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("error", body.RootElement.GetProperty("type").GetString());
        var error = body.RootElement.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Contains(mentioned, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, _anthropic.CallCount);
    }

    [Fact]
    public async Task Messages_MalformedBodyThroughSdk_IsAnthropicBadRequestException()
    {
        // The SDK sends what it is given: a message whose content is neither text nor blocks.
        var error = await Assert.ThrowsAsync<AnthropicBadRequestException>(() => Client().Messages.Create(new MessageCreateParams
        {
            Model = Claude,
            MaxTokens = 16,
            Messages = [new MessageParam(JsonDocument.Parse("""{"role":"user","content":42}""").RootElement)],
        }, TestContext.Current.CancellationToken));

        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
        Assert.Contains("messages[0].content", error.ResponseBody, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Messages_WithoutAnthropicVersion_Is400LikeAnthropic()
    {
        using var http = new HttpClient { BaseAddress = _gateway.HttpBase };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages")
        {
            Content = new StringContent("""{"model":"claude-sonnet-4","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-api-key", TestGateway.DefaultKey);

        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("invalid_request_error", body.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal("anthropic-version: header is required", body.RootElement.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Messages_UpstreamErrorAfterStreamStarted_SendsErrorEventThenCutsTheResponseOff()
    {
        _anthropic.Replies.Enqueue(new FakeReply
        {
            Text = "Partial answer",
            StreamError = """{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}""",
        });
        using var http = new HttpClient { BaseAddress = _gateway.HttpBase };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages")
        {
            Content = new StringContent("""{"model":"claude-sonnet-4","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-api-key", TestGateway.DefaultKey);
        request.Headers.Add("anthropic-version", "2023-06-01");

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var (text, aborted) = await StreamReading.ReadToEndOrAbortAsync(response, TestContext.Current.CancellationToken);
        var lines = text.Split(Environment.NewLine).ToList();

        Assert.True(aborted, "the response must be cut off, not completed cleanly");
        Assert.Contains("event: error", lines);
        var error = lines[lines.IndexOf("event: error") + 1];
        Assert.Contains("\"type\":\"overloaded_error\"", error, StringComparison.Ordinal);
        Assert.DoesNotContain("event: message_stop", lines);
        Assert.Contains(lines, l => l.Contains("Partial answer"[..3], StringComparison.Ordinal));

        // The SDK surfaces the same failure as an exception, never as a complete message.
        _anthropic.Replies.Enqueue(new FakeReply { Text = "Partial answer", StreamError = """{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}""" });
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await foreach (var _ in Client().Messages.CreateStreaming(new MessageCreateParams
            {
                Model = Claude,
                MaxTokens = 16,
                Messages = [new UserMessageParam { Content = "hi" }],
            }, TestContext.Current.CancellationToken))
            {
            }
        });
    }

    [Fact]
    public async Task Messages_Response_CarriesRequestIdAndGatewayHeaders()
    {
        using var http = new HttpClient { BaseAddress = _gateway.HttpBase };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages")
        {
            Content = new StringContent("""{"model":"claude-sonnet-4","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestGateway.DefaultKey);
        request.Headers.Add("anthropic-version", "2023-06-01");

        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);

        response.EnsureSuccessStatusCode();
        var requestId = response.Headers.GetValues("x-request-id").Single();
        Assert.Equal(requestId, response.Headers.GetValues("request-id").Single());
        Assert.Equal("anthropic", response.Headers.GetValues("x-gateway-provider").Single());
        Assert.Equal(Claude, response.Headers.GetValues("x-gateway-model").Single());
    }
}
