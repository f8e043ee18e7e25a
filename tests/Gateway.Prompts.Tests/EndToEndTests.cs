using System.ClientModel;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;

namespace Gateway.Prompts.Tests;

// The whole embedded gateway: the official OpenAI SDK sending `prompt` as an extra body field, the admin API
// moving labels, feedback linked to traces.
public sealed class EndToEndTests : IAsyncLifetime
{
    private const string SupportV1 = """
        {"messages":[{"role":"system","content":"You are the {{product}} assistant. Reply in {{language}}."}],
         "variables":[{"name":"product"},{"name":"language","default":"English"}],
         "model":"gpt-4o-mini","temperature":0.1,"max_tokens":64}
        """;

    private const string SupportV2 = """
        {"messages":[{"role":"system","content":"You are the {{product}} expert. Reply in {{language}}, briefly."}],
         "variables":[{"name":"product"},{"name":"language","default":"English"}],
         "model":"gpt-4o-mini","temperature":0.7}
        """;

    private PromptGateway _g = null!;

    public async ValueTask InitializeAsync() => _g = await PromptGateway.StartAsync();

    public async ValueTask DisposeAsync() => await _g.DisposeAsync();

    private JsonElement LastUpstreamBody() => JsonDocument.Parse(_g.Upstream.LastRequest.Body).RootElement.Clone();

    [Fact]
    public async Task OpenAiSdk_PromptAsExtraBodyField_RendersTemplateAppliesParametersAndReportsVersion()
    {
        await _g.CreateVersionAsync("support", SupportV1);
        await _g.SetLabelAsync("support", "production", 1);
        var client = new OpenAIClient(new ApiKeyCredential(TestGateway.DefaultKey), new OpenAIClientOptions { Endpoint = new Uri(_g.Gateway.HttpBase, "/v1") });
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 20 };
#pragma warning disable SCME0001 // JsonPatch (extra body fields) is marked experimental in the SDK.
        options.Patch.Set("$.prompt"u8, BinaryData.FromString("""{"id":"support","label":"production","variables":{"product":"Gateway","language":"Deutsch"}}"""));
#pragma warning restore SCME0001

        var result = await client.GetChatClient("gpt-4o").CompleteChatAsync([new UserChatMessage("Wie starte ich?")], options, TestContext.Current.CancellationToken);

        Assert.Equal("Echo: Wie starte ich?", result.Value.Content[0].Text);
        var headers = result.GetRawResponse().Headers;
        Assert.True(headers.TryGetValue("x-gateway-prompt-version", out var version));
        Assert.Equal("1", version);
        Assert.True(headers.TryGetValue("x-gateway-prompt-label", out var label));
        Assert.Equal("production", label);
        var sent = LastUpstreamBody();
        var messages = sent.GetProperty("messages");
        Assert.Equal(2, messages.GetArrayLength());
        Assert.Equal("system", messages[0].GetProperty("role").GetString());
        Assert.Equal("You are the Gateway assistant. Reply in Deutsch.", messages[0].GetProperty("content").GetString());
        Assert.Equal("Wie starte ich?", messages[1].GetProperty("content").GetString());
        // The request names its model and max tokens (they win); the version's temperature fills the gap.
        Assert.Equal("gpt-4o-2024-08-06", sent.GetProperty("model").GetString());
        Assert.Equal(0.1, sent.GetProperty("temperature").GetDouble(), 9);
        Assert.False(sent.TryGetProperty("prompt", out _));
        var trace = await _g.Gateway.TraceAsync(headers.TryGetValue("x-request-id", out var id) ? id! : "");
        Assert.Equal(("support", 1, "production"), (trace.PromptName, trace.PromptVersion, trace.PromptLabel));
    }

    [Fact]
    public async Task Chat_PromptWithoutModelOrMessages_UsesTheVersionsModel()
    {
        await _g.CreateVersionAsync("support", SupportV1);

        var (status, headers, body) = await _g.ChatAsync(new { prompt = new { id = "support", variables = new { product = "Gateway" } } });

        Assert.Equal(200, status);
        Assert.Equal("1", headers.GetValues("x-gateway-prompt-version").Single());
        Assert.Equal("latest", headers.GetValues("x-gateway-prompt-label").Single());
        Assert.Equal("Echo: ", body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("gpt-4o-mini", headers.GetValues("x-gateway-model").Single());
        var sent = LastUpstreamBody();
        Assert.Equal("gpt-4o-mini-2024-07-18", sent.GetProperty("model").GetString());
        Assert.Equal(64, sent.TryGetProperty("max_completion_tokens", out var max) ? max.GetInt32() : sent.GetProperty("max_tokens").GetInt32());
    }

    [Fact]
    public async Task LabelMove_TakesEffectOnTheNextRequest()
    {
        await _g.CreateVersionAsync("support", SupportV1);
        await _g.CreateVersionAsync("support", SupportV2);
        await _g.SetLabelAsync("support", "production", 2);
        object Request() => new { model = "gpt-4o", messages = new[] { new { role = "user", content = "hi" } }, prompt = new { id = "support", label = "production", variables = new { product = "X" } } };
        Assert.Equal("2", (await _g.ChatAsync(Request())).Headers.GetValues("x-gateway-prompt-version").Single());

        // Rollback: move the label back; the very next request is served by version 1.
        await _g.SetLabelAsync("support", "production", 1);
        var (_, headers, _) = await _g.ChatAsync(Request());

        Assert.Equal("1", headers.GetValues("x-gateway-prompt-version").Single());
        Assert.Equal("You are the X assistant. Reply in English.", LastUpstreamBody().GetProperty("messages")[0].GetProperty("content").GetString());
        var history = await _g.AdminAsync(HttpMethod.Get, "/admin/v1/prompts/support/labels/history?label=production");
        Assert.Equal([2, 1], history.GetProperty("changes").EnumerateArray().Select(c => c.GetProperty("to_version").GetInt32()));
    }

    [Fact]
    public async Task Chat_MissingVariable_Is400InOpenAiShapeNamingIt()
    {
        await _g.CreateVersionAsync("support", SupportV1);
        var calls = _g.Upstream.CallCount;

        var (status, _, body) = await _g.ChatAsync(new { model = "gpt-4o", messages = new[] { new { role = "user", content = "hi" } }, prompt = new { id = "support", variables = new { language = "fr" } } });

        Assert.Equal(400, status);
        var error = body.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal("missing_prompt_variable", error.GetProperty("code").GetString());
        Assert.Equal("prompt.variables.product", error.GetProperty("param").GetString());
        Assert.Equal(calls, _g.Upstream.CallCount);
    }

    [Fact]
    public async Task Feedback_IsStoredAndLinkedToTheTrace()
    {
        await _g.CreateVersionAsync("support", SupportV1);
        var (_, headers, _) = await _g.ChatAsync(new { model = "gpt-4o", messages = new[] { new { role = "user", content = "hi" } }, prompt = new { id = "support", variables = new { product = "X" } } });
        var requestId = headers.GetValues("x-request-id").Single();
        await _g.Gateway.TraceAsync(requestId);

        using var feedback = new HttpRequestMessage(HttpMethod.Post, "/v1/feedback") { Content = System.Net.Http.Json.JsonContent.Create(new { request_id = requestId, score = 0.9, comment = "helpful ✓" }) };
        feedback.Headers.Authorization = new("Bearer", TestGateway.DefaultKey);
        using var accepted = await _g.Http.SendAsync(feedback, TestContext.Current.CancellationToken);
        Assert.Equal(202, (int)accepted.StatusCode);

        var trace = await WaitAsync(async () => await _g.Gateway.TraceAsync(requestId) is { Feedback: not null } t ? t : null);
        Assert.Equal((0.9, "helpful ✓", "test"), (trace.Feedback.Score, trace.Feedback.Comment, trace.Feedback.KeyName));
        var viaApi = await _g.AdminAsync(HttpMethod.Get, $"/admin/v1/traces/{requestId}");
        Assert.Equal(0.9, viaApi.GetProperty("feedback").GetProperty("score").GetDouble());
    }

    [Fact]
    public async Task Feedback_BadScoreOrNoKey_IsRefusedInOpenAiShape()
    {
        using var noKey = await _g.Http.PostAsync("/v1/feedback", System.Net.Http.Json.JsonContent.Create(new { request_id = "abc", score = 1 }), TestContext.Current.CancellationToken);
        using var bad = new HttpRequestMessage(HttpMethod.Post, "/v1/feedback") { Content = System.Net.Http.Json.JsonContent.Create(new { request_id = "abc", score = 7 }) };
        bad.Headers.Authorization = new("Bearer", TestGateway.DefaultKey);
        using var badScore = await _g.Http.SendAsync(bad, TestContext.Current.CancellationToken);

        Assert.Equal(401, (int)noKey.StatusCode);
        Assert.Equal(400, (int)badScore.StatusCode);
        using var error = JsonDocument.Parse(await badScore.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("score", error.RootElement.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task AdminApi_EditorKeyMayMoveStagingButNotProduction_AndOtherKeysMayNothing()
    {
        await _g.CreateVersionAsync("support", SupportV1);

        await _g.AdminAsync(HttpMethod.Put, "/admin/v1/prompts/support/labels/staging", new { version = 1 }, PromptGateway.EditorKey);
        var protectedLabel = await _g.AdminAsync(HttpMethod.Put, "/admin/v1/prompts/support/labels/production", new { version = 1 }, PromptGateway.EditorKey, expect: 403);
        var plainKey = await _g.AdminAsync(HttpMethod.Put, "/admin/v1/prompts/support/labels/staging", new { version = 1 }, TestGateway.DefaultKey, expect: 403);
        var nobody = await _g.AdminAsync(HttpMethod.Get, "/admin/v1/prompts", key: "wrong-key", expect: 401);

        Assert.Equal("protected_label", protectedLabel.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("missing_role", plainKey.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("invalid_admin_key", nobody.GetProperty("error").GetProperty("code").GetString());
        var versions = await _g.AdminAsync(HttpMethod.Get, "/admin/v1/prompts/support/versions");
        Assert.Equal(1, versions.GetProperty("labels").GetProperty("staging").GetInt32());
        Assert.False(versions.GetProperty("labels").TryGetProperty("production", out _));
    }

    [Fact]
    public async Task AdminApi_CreateListGetDiff_RoundTrip()
    {
        var created = await _g.CreateVersionAsync("support", SupportV1);
        var again = await _g.AdminAsync(HttpMethod.Post, "/admin/v1/prompts/support/versions", SupportV1);
        await _g.CreateVersionAsync("support", SupportV2);

        var list = await _g.AdminAsync(HttpMethod.Get, "/admin/v1/prompts");
        var latest = await _g.AdminAsync(HttpMethod.Get, "/admin/v1/prompts/support/versions/latest");
        var diff = await _g.AdminAsync(HttpMethod.Get, "/admin/v1/prompts/support/diff?from=1&to=2");
        var bad = await _g.AdminAsync(HttpMethod.Post, "/admin/v1/prompts/support/versions", """{"messages":[]}""", expect: 400);

        Assert.True(created.GetProperty("created").GetBoolean());
        Assert.False(again.GetProperty("created").GetBoolean());
        Assert.Equal(2, list.GetProperty("prompts")[0].GetProperty("latest_version").GetInt32());
        Assert.Equal(2, latest.GetProperty("version").GetInt32());
        Assert.Equal("admin", latest.GetProperty("author").GetString());
        Assert.Contains(diff.GetProperty("lines").EnumerateArray(), l => l.GetProperty("op").GetString() == "+" && l.GetProperty("text").GetString()!.Contains("briefly", StringComparison.Ordinal));
        Assert.Equal("messages", bad.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task Experiment_SplitsStickyPerUser_ReportsArmsFromTracesAndPromotesTheWinner()
    {
        await _g.CreateVersionAsync("support", SupportV1);
        await _g.CreateVersionAsync("support", SupportV2);
        await _g.SetLabelAsync("support", "production", 1);
        await _g.AdminAsync(HttpMethod.Post, "/admin/v1/prompts/support/experiments", new
        {
            id = "brief", label = "production", sticky = "user",
            arms = new[] { new { name = "a", version = 1, weight = 50 }, new { name = "b", version = 2, weight = 50 } },
        });

        var servedBy = new Dictionary<string, HashSet<string>>();
        var requestIds = new List<(string Id, string Arm)>();
        for (var i = 0; i < 40; i++)
        {
            var user = $"user-{i % 10}";
            var (status, headers, _) = await _g.ChatAsync(new { model = "gpt-4o", user, messages = new[] { new { role = "user", content = "q" } }, prompt = new { id = "support", variables = new { product = "X" } } });
            Assert.Equal(200, status);
            var arm = headers.GetValues("x-gateway-experiment-arm").Single();
            Assert.Equal(arm == "a" ? "1" : "2", headers.GetValues("x-gateway-prompt-version").Single());
            (servedBy.TryGetValue(user, out var seen) ? seen : servedBy[user] = []).Add(arm);
            requestIds.Add((headers.GetValues("x-request-id").Single(), arm));
        }
        Assert.All(servedBy.Values, seen => Assert.Single(seen));
        Assert.Equal(2, servedBy.Values.Select(a => a.Single()).Distinct().Count());
        foreach (var (id, arm) in requestIds)
        {
            await _g.Gateway.TraceAsync(id);
            using var feedback = new HttpRequestMessage(HttpMethod.Post, "/v1/feedback") { Content = System.Net.Http.Json.JsonContent.Create(new { request_id = id, score = arm == "b" ? 1.0 : 0.0 }) };
            feedback.Headers.Authorization = new("Bearer", TestGateway.DefaultKey);
            using var _ = await _g.Http.SendAsync(feedback, TestContext.Current.CancellationToken);
        }

        var report = await WaitAsync(async () =>
        {
            var r = await _g.AdminAsync(HttpMethod.Get, "/admin/v1/prompts/support/experiments/brief");
            return r.GetProperty("arms").EnumerateArray().Sum(a => a.GetProperty("feedback_count").GetInt64()) == 40 ? (object)r : null;
        });
        var json = (JsonElement)report;
        var arms = json.GetProperty("arms").EnumerateArray().ToDictionary(a => a.GetProperty("arm").GetString()!);
        Assert.Equal(40, arms.Values.Sum(a => a.GetProperty("requests").GetInt64()));
        Assert.Equal(requestIds.Count(r => r.Arm == "b"), arms["b"].GetProperty("requests").GetInt64());
        Assert.Equal(1.0, arms["b"].GetProperty("feedback_score").GetDouble());
        Assert.Equal(0.0, arms["a"].GetProperty("error_rate").GetDouble());
        // 40 requests are fewer than min_samples_per_arm (100): however clear the scores, no verdict yet.
        Assert.Equal("no difference yet", json.GetProperty("verdict").GetString());
        var positive = json.GetProperty("comparisons")[0].GetProperty("metrics").EnumerateArray().Single(m => m.GetProperty("metric").GetString() == "positive_feedback");
        Assert.True(positive.GetProperty("p_value").GetDouble() < 0.001);

        var stopped = await _g.AdminAsync(HttpMethod.Post, "/admin/v1/prompts/support/experiments/brief/stop", new { promote = "b" });
        Assert.Equal(("stopped", "b"), (stopped.GetProperty("status").GetString(), stopped.GetProperty("winner").GetString()));
        var (_, after, _) = await _g.ChatAsync(new { model = "gpt-4o", user = "user-0", messages = new[] { new { role = "user", content = "q" } }, prompt = new { id = "support", variables = new { product = "X" } } });
        Assert.Equal("2", after.GetValues("x-gateway-prompt-version").Single());
        Assert.False(after.Contains("x-gateway-experiment"));
        var traces = await _g.AdminAsync(HttpMethod.Get, "/admin/v1/traces?experiment=brief&arm=b&limit=1000");
        Assert.Equal(requestIds.Count(r => r.Arm == "b"), traces.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task Dashboard_HasThePromptsPage()
    {
        var page = await _g.Http.GetStringAsync("/ui", TestContext.Current.CancellationToken);

        Assert.Contains("id=\"prompts-page\"", page, StringComparison.Ordinal);
        Assert.Contains("/admin/v1/prompts", page, StringComparison.Ordinal);
    }

    private static async Task<T> WaitAsync<T>(Func<Task<T?>> probe) where T : class
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }
            await Task.Delay(20, timeout.Token);
        }
    }
}
