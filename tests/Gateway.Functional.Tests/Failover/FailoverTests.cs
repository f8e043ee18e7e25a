using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Gateway.Contracts.Traces.V1;
using Gateway.Testing.Fakes;
using OpenAI;
using OpenAI.Chat;

namespace Gateway.Functional.Tests.Failover;

// Fault-injecting fake providers behind the embedded gateway, the official OpenAI client in front: the client
// sees the fallback's answer, and the trace holds every attempt in order.
public sealed class FailoverTests : IAsyncLifetime
{
    private const string BatchKey = "batch-key-0123456789abcdef";
    private const string ServerError = """{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}""";
    private const string ContextLength = """{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}""";

    private readonly TaskCompletionSource _never = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private FakeOpenAi _primary = null!;
    private FakeOpenAi _backup = null!;
    private FakeOpenAi _big = null!;
    private TestGateway _gateway = null!;

    public async ValueTask InitializeAsync()
    {
        _primary = await FakeOpenAi.StartNewAsync();
        _backup = await FakeOpenAi.StartNewAsync();
        _big = await FakeOpenAi.StartNewAsync();
        _gateway = await TestGateway.StartAsync($$"""
            providers:
              primary: { kind: openai, base_url: "{{_primary.Url}}v1" }
              backup: { kind: openai, base_url: "{{_backup.Url}}v1" }
              big: { kind: openai, base_url: "{{_big.Url}}v1" }
            models:
              main:
                targets: [{ provider: primary, model: m1 }]
                fallbacks: [spare, large]
                context_window: 8192
                policy: strict
              spare:
                targets: [{ provider: backup, model: m2 }]
                context_window: 8192
              large:
                targets: [{ provider: big, model: m3 }]
                context_window: 128000
              solo:
                targets: [{ provider: primary, model: m9 }]
              moderated:
                targets: [{ provider: primary, model: m5 }]
                fallbacks: [large]
                policy: lenient
              hedged:
                targets: [{ provider: primary, model: m1 }]
                fallbacks: [spare]
                policy: hedge
            routing:
              policies:
                strict:
                  triggers: { timeout_ms: 500, ttft_timeout_ms: 500, idle_timeout_ms: 500 }
                hedge:
                  hedging: { delay_ms: 100 }
                cheap:
                  fallbacks: [large]
                lenient:
                  triggers: { content_policy: true }
              assign:
                - { scope: { team: batch, model: main }, policy: cheap }
            keys:
            {{TestGateway.Key()}}
            {{TestGateway.Key(name: "batch", team: "batch", key: BatchKey)}}
            """);
    }

    public async ValueTask DisposeAsync()
    {
        _never.TrySetResult();
        await _gateway.DisposeAsync();
        await _primary.DisposeAsync();
        await _backup.DisposeAsync();
        await _big.DisposeAsync();
    }

    private ChatClient Client(string model, string requestId, string key = TestGateway.DefaultKey)
    {
        var options = new OpenAIClientOptions { Endpoint = new Uri(_gateway.HttpBase, "/v1") };
        options.AddPolicy(new RequestIdPolicy(requestId), PipelinePosition.PerCall);
        return new OpenAIClient(new ApiKeyCredential(key), options).GetChatClient(model);
    }

    private static void AssertAttempts(TraceEvent trace, params (string Provider, int Status, string ErrorClass)[] expected)
        => Assert.Equal(expected, trace.Attempts.Select(a => (a.Provider, a.HttpStatus, a.ErrorClass)).ToArray());

    private static string Header(ClientResult result, string name)
        => result.GetRawResponse().Headers.TryGetValue(name, out var value) ? value! : "";

    [Fact]
    public async Task Chat_Primary429WithRetryAfter_FallbackServesAndPrimaryIsSkippedUntilItPasses()
    {
        _primary.Replies.Enqueue(FakeReply.Error(429, """{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}""") with
        {
            Headers = new Dictionary<string, string> { ["retry-after"] = "120" },
        });

        var first = await Client("main", "rl-1").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: TestContext.Current.CancellationToken);
        var second = await Client("main", "rl-2").CompleteChatAsync([new UserChatMessage("again")], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("Echo: hi", first.Value.Content[0].Text);
        Assert.Equal("spare", Header(first, "x-gateway-model"));
        Assert.Equal("2", Header(first, "x-gateway-attempts"));
        AssertAttempts(await _gateway.TraceAsync("rl-1"), ("primary", 429, "rate_limit"), ("backup", 200, ""));
        // Cooling down: the second request does not touch the rate-limited deployment at all.
        Assert.Equal("Echo: again", second.Value.Content[0].Text);
        Assert.Equal("1", Header(second, "x-gateway-attempts"));
        Assert.Equal(1, _primary.CallCount);
        AssertAttempts(await _gateway.TraceAsync("rl-2"), ("backup", 200, ""));
    }

    [Theory]
    [InlineData(500)]
    [InlineData(503)]
    public async Task Chat_PrimaryServerError_FallbackAnswersAndAttemptsRecordedInOrder(int status)
    {
        _primary.Replies.Enqueue(FakeReply.Error(status, ServerError));

        var result = await Client("main", $"5xx-{status}").CompleteChatAsync([new UserChatMessage("hello")], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("Echo: hello", result.Value.Content[0].Text);
        Assert.Equal("spare", Header(result, "x-gateway-model"));
        Assert.Equal("backup", Header(result, "x-gateway-provider"));
        var trace = await _gateway.TraceAsync($"5xx-{status}");
        AssertAttempts(trace, ("primary", status, "server_error"), ("backup", 200, ""));
        Assert.Equal("spare", trace.ServedModel);
        Assert.Equal("m1", trace.Attempts[0].UpstreamModel);
        Assert.True(trace.Attempts.All(a => a.LatencyMs > 0));
    }

    [Fact]
    public async Task Chat_PrimaryHangs_TotalTimeoutFallsBack()
    {
        _primary.Replies.Enqueue(new FakeReply { Text = "never sent", Gate = _never.Task });

        var result = await Client("main", "hang").CompleteChatAsync([new UserChatMessage("still there?")], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("Echo: still there?", result.Value.Content[0].Text);
        var trace = await _gateway.TraceAsync("hang");
        AssertAttempts(trace, ("primary", 504, "timeout"), ("backup", 200, ""));
        Assert.InRange(trace.Attempts[0].LatencyMs, 450, 5000);
    }

    [Fact]
    public async Task Stream_SlowFirstToken_TtftTimeoutFallsBackBeforeTheFirstByte()
    {
        _primary.Replies.Enqueue(new FakeReply { Text = "too late", FirstChunkGate = _never.Task });

        var text = new System.Text.StringBuilder();
        await foreach (var update in Client("main", "ttft").CompleteChatStreamingAsync([new UserChatMessage("quick")], cancellationToken: TestContext.Current.CancellationToken))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }

        Assert.Equal("Echo: quick", text.ToString());
        AssertAttempts(await _gateway.TraceAsync("ttft"), ("primary", 504, "ttft_timeout"), ("backup", 200, ""));
    }

    [Fact]
    public async Task Stream_StallsAfterFirstChunks_IdleTimeoutSendsErrorEventAndAbortsWithoutFailover()
    {
        _primary.Replies.Enqueue(new FakeReply { Text = "this answer stalls halfway", StallAfterChunks = 2, StallGate = _never.Task });
        using var http = new HttpClient { BaseAddress = _gateway.HttpBase };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"main","stream":true,"messages":[{"role":"user","content":"hi"}]}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestGateway.DefaultKey);
        request.Headers.Add("x-request-id", "idle");

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        var (text, aborted) = await StreamReading.ReadToEndOrAbortAsync(response, TestContext.Current.CancellationToken);
        Assert.True(aborted, "the connection must be aborted, not closed cleanly: " + text);
        Assert.Contains("\"content\":\"thi\"", text);
        Assert.Contains("data: {\"error\":", text);
        Assert.DoesNotContain("[DONE]", text);
        Assert.Equal(0, _backup.CallCount + _big.CallCount);
        var trace = await _gateway.TraceAsync("idle");
        Assert.Equal("idle_timeout", trace.ErrorClass);
        AssertAttempts(trace, ("primary", 200, ""));
    }

    [Fact]
    public async Task Chat_ContextLengthError_FallsBackToAModelWithALargerWindow()
    {
        _primary.Replies.Enqueue(FakeReply.Error(400, ContextLength));

        var result = await Client("main", "ctx").CompleteChatAsync([new UserChatMessage("a very long prompt")], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("Echo: a very long prompt", result.Value.Content[0].Text);
        Assert.Equal("large", Header(result, "x-gateway-model"));
        // `spare` has the same 8192-token window, so it is skipped.
        Assert.Equal(0, _backup.CallCount);
        AssertAttempts(await _gateway.TraceAsync("ctx"), ("primary", 400, "context_length"), ("big", 200, ""));
    }

    [Fact]
    public async Task Chat_ContentPolicyRefusal_FallsBackOnlyWhereThePolicyAllowsIt()
    {
        const string Refusal = """{"error":{"message":"The response was filtered due to the prompt triggering content management policy.","type":"invalid_request_error","param":"prompt","code":"content_filter"}}""";
        _primary.Replies.Enqueue(FakeReply.Error(400, Refusal));
        _primary.Replies.Enqueue(FakeReply.Error(400, Refusal));

        var allowed = await Client("moderated", "cp-on").CompleteChatAsync([new UserChatMessage("edgy")], cancellationToken: TestContext.Current.CancellationToken);
        var refused = await Assert.ThrowsAsync<ClientResultException>(() => Client("main", "cp-off").CompleteChatAsync([new UserChatMessage("edgy")], cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal("large", Header(allowed, "x-gateway-model"));
        AssertAttempts(await _gateway.TraceAsync("cp-on"), ("primary", 400, "content_policy"), ("big", 200, ""));
        Assert.Equal(400, refused.Status);
        Assert.Equal(1, _big.CallCount);
        Assert.Equal(0, _backup.CallCount);
    }

    [Fact]
    public async Task Chat_ClientOwnBadRequest_NoFallbackOneAttempt()
    {
        _primary.Replies.Enqueue(FakeReply.Error(400, """{"error":{"message":"Invalid 'messages[0].role'","type":"invalid_request_error","param":"messages","code":null}}"""));

        var error = await Assert.ThrowsAsync<ClientResultException>(() => Client("main", "own-400").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(400, error.Status);
        Assert.Equal(0, _backup.CallCount + _big.CallCount);
        AssertAttempts(await _gateway.TraceAsync("own-400"), ("primary", 400, "client_error"));
    }

    [Fact]
    public async Task Chat_TeamPolicy_FallsBackForCostWhereTheModelFallsBackForQuality()
    {
        _primary.Replies.Enqueue(FakeReply.Error(503, ServerError));
        _primary.Replies.Enqueue(FakeReply.Error(503, ServerError));

        var quality = await Client("main", "path-quality").CompleteChatAsync([new UserChatMessage("q")], cancellationToken: TestContext.Current.CancellationToken);
        var cost = await Client("main", "path-cost", BatchKey).CompleteChatAsync([new UserChatMessage("c")], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("spare", Header(quality, "x-gateway-model"));
        Assert.Equal("large", Header(cost, "x-gateway-model"));
        AssertAttempts(await _gateway.TraceAsync("path-cost"), ("primary", 503, "server_error"), ("big", 200, ""));
    }

    [Fact]
    public async Task Chat_Hedging_SlowPrimary_SecondDeploymentAnswersAndTheLoserIsCancelled()
    {
        _primary.Replies.Enqueue(new FakeReply { Text = "slow", Gate = _never.Task });

        var result = await Client("hedged", "hedge").CompleteChatAsync([new UserChatMessage("race")], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("Echo: race", result.Value.Content[0].Text);
        Assert.Equal("backup", Header(result, "x-gateway-provider"));
        var trace = await _gateway.TraceAsync("hedge");
        Assert.Equal(
            [("backup", 200, ""), ("primary", 499, "hedge_cancelled")],
            trace.Attempts.Select(a => (a.Provider, a.HttpStatus, a.ErrorClass)).OrderBy(a => a.Provider).ToArray());
    }

    [Fact]
    public async Task Chat_EveryDeploymentCoolingDown_ClientGets429WithRetryAfterAndNoUpstreamCall()
    {
        _primary.Replies.Enqueue(FakeReply.Error(429, """{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":null}}""") with
        {
            Headers = new Dictionary<string, string> { ["retry-after"] = "30" },
        });
        using var http = new HttpClient { BaseAddress = _gateway.HttpBase };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestGateway.DefaultKey);
        async Task<HttpResponseMessage> SendAsync() => await http.PostAsync("/v1/chat/completions",
            new StringContent("""{"model":"solo","messages":[{"role":"user","content":"hi"}]}""", System.Text.Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        using var first = await SendAsync();
        using var second = await SendAsync();

        Assert.Equal(HttpStatusCode.TooManyRequests, first.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.InRange(second.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 30);
        Assert.Equal(1, _primary.CallCount);
    }

    [Fact]
    public async Task Reload_PolicyFallbacksChanged_NextRequestFollowsTheNewPolicy()
    {
        await _gateway.EditConfigAsync(yaml => yaml.Replace(
            "      triggers: { timeout_ms: 500, ttft_timeout_ms: 500, idle_timeout_ms: 500 }",
            "      triggers: { timeout_ms: 500, ttft_timeout_ms: 500, idle_timeout_ms: 500 }\n      fallbacks: [large]"));
        _primary.Replies.Enqueue(FakeReply.Error(503, ServerError));

        var result = await Client("main", "reloaded").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("large", Header(result, "x-gateway-model"));
        Assert.Equal(0, _backup.CallCount);
    }

    [Fact]
    public async Task Admin_Routing_ShowsLiveNumbersAndCoolingDownBehindTheAdminKey()
    {
        _primary.Replies.Enqueue(FakeReply.Error(429, """{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":null}}""") with
        {
            Headers = new Dictionary<string, string> { ["retry-after"] = "60" },
        });
        await Client("main", "admin-1").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: TestContext.Current.CancellationToken);
        using var http = new HttpClient { BaseAddress = _gateway.HttpBase };

        using var anonymous = await http.GetAsync("/admin/v1/routing", TestContext.Current.CancellationToken);
        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/admin/v1/routing") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", TestGateway.DefaultKey) } };
        using var wrongResponse = await http.SendAsync(wrong, TestContext.Current.CancellationToken);
        using var admin = new HttpRequestMessage(HttpMethod.Get, "/admin/v1/routing") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "test-admin-key-0123456789") } };
        using var response = await http.SendAsync(admin, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongResponse.StatusCode);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        var deployments = json.RootElement.GetProperty("deployments").EnumerateArray().ToDictionary(d => d.GetProperty("deployment").GetString()!);
        Assert.Equal(["backup/m2", "big/m3", "primary/m1", "primary/m5", "primary/m9"], deployments.Keys.Order());
        var primary = deployments["primary/m1"];
        Assert.Equal("cooling-down", primary.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.String, primary.GetProperty("cooling_down_until").ValueKind);
        Assert.Equal(1.0, primary.GetProperty("error_rate").GetDouble());
        Assert.Equal("closed", primary.GetProperty("circuits").GetProperty("strict").GetString());
        var backup = deployments["backup/m2"];
        Assert.Equal("closed", backup.GetProperty("state").GetString());
        Assert.Equal(1, backup.GetProperty("samples").GetInt32());
        Assert.True(backup.GetProperty("latency_p50_ms").GetDouble() > 0);
    }

    // Sends a fixed x-request-id, so the test can find the request's trace.
    private sealed class RequestIdPolicy(string requestId) : PipelinePolicy
    {
        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set("x-request-id", requestId);
            ProcessNext(message, pipeline, currentIndex);
        }

        public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set("x-request-id", requestId);
            return ProcessNextAsync(message, pipeline, currentIndex);
        }
    }
}
