#pragma warning disable OPENAI001 // the Responses API surface of the OpenAI SDK is marked experimental
using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Gateway.Testing.Fakes;
using OpenAI;
using OpenAI.Responses;

namespace Gateway.Functional.Tests.Responses;

// The official OpenAI .NET SDK's Responses client against the embedded gateway; the upstream is an
// OpenAI Chat Completions fake, so every assertion on it shows what the translation sent.
public sealed class ResponsesSdkTests : IAsyncLifetime
{
    private const string OtherKey = "other-key-0123456789abcdef";

    private FakeOpenAi _upstream = null!;
    private TestGateway _gateway = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

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
            keys:
            {{TestGateway.Key()}}
              - { name: other, key: "{{OtherKey}}", team: elsewhere }
            """);
    }

    public async ValueTask DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private ResponsesClient Client(string key = TestGateway.DefaultKey)
        => new OpenAIClient(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(_gateway.HttpBase, "/v1") }).GetResponsesClient();

    private static CreateResponseOptions Options(params ResponseItem[] items)
    {
        var options = new CreateResponseOptions { Model = "gpt-4o" };
        foreach (var item in items)
        {
            options.InputItems.Add(item);
        }
        return options;
    }

    private JsonElement UpstreamBody(int fromEnd = 0)
    {
        var request = _upstream.Requests.ToArray()[^(fromEnd + 1)];
        return JsonDocument.Parse(request.Body).RootElement;
    }

    private static List<(string Role, string Text)> Messages(JsonElement body)
        => [.. body.GetProperty("messages").EnumerateArray().Select(m => (
            m.GetProperty("role").GetString()!,
            m.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : ""))];

    [Fact]
    public async Task CreateResponse_NonStreaming_ReturnsTextAndUsage_AndIsStoredForGet()
    {
        var options = Options(ResponseItem.CreateUserMessageItem("Hello there"));
        options.Instructions = "Be brief.";
        options.MaxOutputTokenCount = 200;
        options.Temperature = 0.5f;
        options.Metadata["ticket"] = "T-1";

        ResponseResult response = await Client().CreateResponseAsync(options, Ct);

        Assert.StartsWith("resp_", response.Id);
        Assert.Equal(ResponseStatus.Completed, response.Status);
        Assert.Equal("Echo: Hello there", response.GetOutputText());
        Assert.Equal(11, response.Usage.InputTokenCount);
        Assert.Equal(7, response.Usage.OutputTokenCount);
        var sent = UpstreamBody();
        Assert.Equal([("system", "Be brief."), ("user", "Hello there")], Messages(sent));
        Assert.Equal(200, sent.TryGetProperty("max_completion_tokens", out var max) ? max.GetInt32() : sent.GetProperty("max_tokens").GetInt32());
        Assert.Equal(0.5, sent.GetProperty("temperature").GetDouble(), 3);

        ResponseResult stored = await Client().GetResponseAsync(response.Id, Ct);
        Assert.Equal("Echo: Hello there", stored.GetOutputText());
        Assert.Equal("T-1", stored.Metadata["ticket"]);
    }

    [Fact]
    public async Task CreateResponse_TraceSaysResponsesApiAndCarriesMetadata()
    {
        using var http = Http();
        using var reply = await http.PostAsync("/v1/responses", Json("""{"model":"gpt-4o","input":"hi","metadata":{"ticket":"T-9"}}"""), Ct);
        Assert.Equal(HttpStatusCode.OK, reply.StatusCode);

        var trace = await _gateway.TraceAsync(reply.Headers.GetValues("x-request-id").Single());
        Assert.Equal("responses", trace.Api);
        Assert.Equal("qa", trace.Principal.Team);
        Assert.Equal("T-9", trace.Metadata["ticket"]);
    }

    [Fact]
    public async Task CreateResponse_Streaming_DeliversDeltasInOrderAndCompletedWithUsage()
    {
        _upstream.Replies.Enqueue(FakeReply.Say("Grüße aus 世界 😀 — streamed!"));

        var text = new StringBuilder();
        var sequence = new List<int>();
        ResponseResult? completed = null;
        var options = Options(ResponseItem.CreateUserMessageItem("stream please"));
        options.StreamingEnabled = true;
        await foreach (var update in await Client().CreateResponseStreamingAsync(options, Ct))
        {
            sequence.Add(update.SequenceNumber);
            if (update is StreamingResponseOutputTextDeltaUpdate delta)
            {
                text.Append(delta.Delta);
            }
            if (update is StreamingResponseCompletedUpdate done)
            {
                completed = done.Response;
            }
        }

        Assert.Equal("Grüße aus 世界 😀 — streamed!", text.ToString());
        Assert.Equal(Enumerable.Range(0, sequence.Count), sequence);
        Assert.NotNull(completed);
        Assert.Equal(ResponseStatus.Completed, completed.Status);
        Assert.Equal("Grüße aus 世界 😀 — streamed!", completed.GetOutputText());
        Assert.Equal(11, completed.Usage.InputTokenCount);
        Assert.Equal(7, completed.Usage.OutputTokenCount);
        // The stored copy is written before response.completed goes out.
        Assert.Equal(completed.GetOutputText(), (await Client().GetResponseAsync(completed.Id, Ct)).Value.GetOutputText());
    }

    [Fact]
    public async Task CreateResponse_Streaming_SendsTheSemanticEventSequence()
    {
        _upstream.Replies.Enqueue(new FakeReply { Text = "Let me check.", ToolCalls = [new FakeToolCall("call_w1", "get_weather", """{"city":"Paris"}""")] });
        using var http = Http();

        using var reply = await http.PostAsync("/v1/responses", Json("""
            {"model":"gpt-4o","stream":true,"input":"weather?",
             "tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]}
            """), Ct);
        var (body, aborted) = await StreamReading.ReadToEndOrAbortAsync(reply, Ct);

        Assert.False(aborted);
        var events = body.Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => JsonDocument.Parse(l[6..]).RootElement).ToList();
        Assert.Equal(
            [
                "response.created", "response.in_progress",
                "response.output_item.added", "response.content_part.added",
                "response.output_text.delta", "response.output_text.delta", "response.output_text.delta", "response.output_text.delta", "response.output_text.delta",
                "response.output_text.done", "response.content_part.done", "response.output_item.done",
                "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
                "response.function_call_arguments.done", "response.output_item.done",
                "response.completed",
            ],
            events.Select(e => e.GetProperty("type").GetString()));
        var argumentsDone = events.Single(e => e.GetProperty("type").GetString() == "response.function_call_arguments.done");
        Assert.Equal("""{"city":"Paris"}""", argumentsDone.GetProperty("arguments").GetString());
        Assert.Equal(1, argumentsDone.GetProperty("output_index").GetInt32());
        var last = events[^1].GetProperty("response");
        Assert.Equal("completed", last.GetProperty("status").GetString());
        Assert.Equal("call_w1", last.GetProperty("output")[1].GetProperty("call_id").GetString());
        Assert.Equal(18, last.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task FunctionCalling_RoundTrip_ToolOutputReachesTheModelAsAToolMessage()
    {
        _upstream.Replies.Enqueue(FakeReply.Call("call_42", "get_weather", """{"city":"Paris"}"""));
        _upstream.Replies.Enqueue(FakeReply.Say("It is 21 °C in Paris."));
        var tool = ResponseTool.CreateFunctionTool("get_weather", BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"""), strictModeEnabled: false, functionDescription: "Current weather");
        var first = Options(ResponseItem.CreateUserMessageItem("Weather in Paris?"));
        first.Tools.Add(tool);

        ResponseResult call = await Client().CreateResponseAsync(first, Ct);

        var functionCall = Assert.IsType<FunctionCallResponseItem>(Assert.Single(call.OutputItems));
        Assert.Equal("call_42", functionCall.CallId);
        Assert.Equal("get_weather", functionCall.FunctionName);
        Assert.Equal("""{"city":"Paris"}""", functionCall.FunctionArguments.ToString());
        var sentTools = UpstreamBody().GetProperty("tools");
        Assert.Equal("get_weather", sentTools[0].GetProperty("function").GetProperty("name").GetString());

        var second = Options(ResponseItem.CreateFunctionCallOutputItem("call_42", """{"celsius":21}"""));
        second.PreviousResponseId = call.Id;
        second.Tools.Add(tool);
        ResponseResult answer = await Client().CreateResponseAsync(second, Ct);

        Assert.Equal("It is 21 °C in Paris.", answer.GetOutputText());
        var messages = UpstreamBody().GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal(["user", "assistant", "tool"], messages.Select(m => m.GetProperty("role").GetString()));
        Assert.Equal("call_42", messages[1].GetProperty("tool_calls")[0].GetProperty("id").GetString());
        Assert.Equal("call_42", messages[2].GetProperty("tool_call_id").GetString());
        Assert.Equal("""{"celsius":21}""", messages[2].GetProperty("content").GetString());
    }

    [Fact]
    public async Task PreviousResponseId_ChainsTurns_UpstreamReceivesEarlierTurns()
    {
        ResponseResult first = await Client().CreateResponseAsync(Options(ResponseItem.CreateUserMessageItem("My name is Ada.")), Ct);
        var next = Options(ResponseItem.CreateUserMessageItem("What is my name?"));
        next.PreviousResponseId = first.Id;
        next.Instructions = "Answer in one word.";

        ResponseResult second = await Client().CreateResponseAsync(next, Ct);
        var third = Options(ResponseItem.CreateUserMessageItem("And again?"));
        third.PreviousResponseId = second.Id;
        await Client().CreateResponseAsync(third, Ct);

        Assert.Equal(first.Id, second.PreviousResponseId);
        Assert.Equal(
            [("system", "Answer in one word."), ("user", "My name is Ada."), ("assistant", "Echo: My name is Ada."), ("user", "What is my name?")],
            Messages(UpstreamBody(1)));
        // Instructions do not carry over to later turns (as with OpenAI); the conversation does.
        Assert.Equal(
            [("user", "My name is Ada."), ("assistant", "Echo: My name is Ada."), ("user", "What is my name?"), ("assistant", "Echo: What is my name?"), ("user", "And again?")],
            Messages(UpstreamBody()));
    }

    [Fact]
    public async Task StoredResponses_ArePerPrincipal_AnotherKeyGets404()
    {
        ResponseResult mine = await Client().CreateResponseAsync(Options(ResponseItem.CreateUserMessageItem("secret plans")), Ct);
        var calls = _upstream.CallCount;

        var get = await Assert.ThrowsAsync<ClientResultException>(() => Client(OtherKey).GetResponseAsync(mine.Id, Ct));
        var chained = Options(ResponseItem.CreateUserMessageItem("continue"));
        chained.PreviousResponseId = mine.Id;
        var chain = await Assert.ThrowsAsync<ClientResultException>(() => Client(OtherKey).CreateResponseAsync(chained, Ct));

        Assert.Equal(404, get.Status);
        Assert.Equal(404, chain.Status);
        using var error = JsonDocument.Parse(chain.GetRawResponse()!.Content.ToString());
        Assert.Equal("previous_response_id", error.RootElement.GetProperty("error").GetProperty("param").GetString());
        Assert.Equal(calls, _upstream.CallCount);
    }

    [Fact]
    public async Task StoreFalse_IsNotKept_AndDeleteRemovesAStoredResponse()
    {
        var unstored = Options(ResponseItem.CreateUserMessageItem("forget me"));
        unstored.StoredOutputEnabled = false;
        ResponseResult ephemeral = await Client().CreateResponseAsync(unstored, Ct);
        ResponseResult kept = await Client().CreateResponseAsync(Options(ResponseItem.CreateUserMessageItem("keep me")), Ct);
        using var http = Http();

        using var deleted = await http.DeleteAsync($"/v1/responses/{kept.Id}", Ct);

        Assert.Equal(404, (await Assert.ThrowsAsync<ClientResultException>(() => Client().GetResponseAsync(ephemeral.Id, Ct))).Status);
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        Assert.True(JsonDocument.Parse(await deleted.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("deleted").GetBoolean());
        Assert.Equal(404, (await Assert.ThrowsAsync<ClientResultException>(() => Client().GetResponseAsync(kept.Id, Ct))).Status);
    }

    [Fact]
    public async Task TextFormatJsonSchema_BecomesResponseFormatUpstream()
    {
        _upstream.Replies.Enqueue(FakeReply.Say("""{"city":"Paris","celsius":21}"""));
        var options = Options(ResponseItem.CreateUserMessageItem("Weather as JSON"));
        options.TextOptions = new ResponseTextOptions
        {
            TextFormat = ResponseTextFormat.CreateJsonSchemaFormat("weather", BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"},"celsius":{"type":"number"}},"required":["city","celsius"],"additionalProperties":false}"""), jsonSchemaIsStrict: true),
        };

        ResponseResult response = await Client().CreateResponseAsync(options, Ct);

        Assert.Equal("""{"city":"Paris","celsius":21}""", response.GetOutputText());
        var format = UpstreamBody().GetProperty("response_format");
        Assert.Equal("json_schema", format.GetProperty("type").GetString());
        Assert.Equal("weather", format.GetProperty("json_schema").GetProperty("name").GetString());
        Assert.True(format.GetProperty("json_schema").GetProperty("strict").GetBoolean());
        Assert.Equal("celsius", format.GetProperty("json_schema").GetProperty("schema").GetProperty("required")[1].GetString());
    }

    [Fact]
    public async Task Errors_UnknownModelBadKeyAndBadInput_AreOpenAiErrorsAndReachNoProvider()
    {
        var noSuchModel = Options(ResponseItem.CreateUserMessageItem("hi"));
        noSuchModel.Model = "no-such-model";
        var unknownModel = await Assert.ThrowsAsync<ClientResultException>(() => Client().CreateResponseAsync(noSuchModel, Ct));
        var badKey = await Assert.ThrowsAsync<ClientResultException>(() => Client("wrong-key-0123456789abcdef").CreateResponseAsync(Options(ResponseItem.CreateUserMessageItem("hi")), Ct));
        using var http = Http();
        using var badItem = await http.PostAsync("/v1/responses", Json("""{"model":"gpt-4o","input":[{"type":"bogus"}]}"""), Ct);
        using var badTool = await http.PostAsync("/v1/responses", Json("""{"model":"gpt-4o","input":"hi","tools":[{"type":"web_search"}]}"""), Ct);
        using var badTemperature = await http.PostAsync("/v1/responses", Json("""{"model":"gpt-4o","input":"hi","temperature":"hot"}"""), Ct);
        using var notJson = await http.PostAsync("/v1/responses", Json("{not json"), Ct);

        Assert.Equal(404, unknownModel.Status);
        Assert.Equal(401, badKey.Status);
        foreach (var (reply, param) in new[] { (badItem, "input[0].type"), (badTool, "tools[0].type"), (badTemperature, "temperature"), (notJson, (string?)null) })
        {
            Assert.Equal(HttpStatusCode.BadRequest, reply.StatusCode);
            var error = JsonDocument.Parse(await reply.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("error");
            Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
            Assert.Equal(param, error.GetProperty("param").GetString());
        }
        Assert.Equal(0, _upstream.CallCount);
    }

    [Fact]
    public async Task Streaming_UpstreamBreaksMidStream_ErrorAndResponseFailedThenAbort()
    {
        _upstream.Replies.Enqueue(new FakeReply { Text = "This answer will be cut off somewhere in the middle.", DropAfterChunks = 3 });
        using var http = Http();

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = Json("""{"model":"gpt-4o","stream":true,"input":"go"}""") };
        using var reply = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        var (body, aborted) = await StreamReading.ReadToEndOrAbortAsync(reply, Ct);

        Assert.True(aborted);
        var types = body.Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => JsonDocument.Parse(l[6..]).RootElement.GetProperty("type").GetString()).ToList();
        Assert.Contains("response.output_text.delta", types);
        Assert.Equal(["error", "response.failed"], types[^2..]);
        Assert.DoesNotContain("response.completed", types);
    }

    private HttpClient Http()
    {
        var http = new HttpClient { BaseAddress = _gateway.HttpBase };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestGateway.DefaultKey);
        return http;
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
