using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Gateway.Testing.Fakes;
using Gateway.Testing.Servers;

namespace Gateway.Functional.Tests.Budget;

// Budgets and rate limits through the whole embedded gateway: HTTP in, the fake provider counting calls.
// Prices make every request reserve exactly $0.10 (no input price, 100 max_tokens at $1000/M output) and
// the fake reports 100 output tokens, so a $5 budget fits exactly 50 requests.
public sealed class BudgetFunctionalTests
{
    private const string AdminKey = "test-admin-key-0123456789";

    private static string Config(FakeOpenAi upstream, string budgets, string extra = "") => $$"""
        providers:
          openai: { kind: openai, base_url: "{{upstream.Url}}v1", api_key: sk-upstream-secret }
        models:
          gpt-4o:
            targets: [{ provider: openai, model: gpt-4o-2024-08-06 }]
            price: { input: 0, output: 1000 }
          gpt-4o-mini:
            targets: [{ provider: openai, model: gpt-4o-mini-2024-07-18 }]
            price: { input: 0, output: 500 }
          llama:
            targets: [{ provider: openai, model: llama-3-70b }]
            price: { input: 0, output: 0 }
        keys:
        {{TestGateway.Key(team: "data-science")}}
        {{budgets}}
        {{extra}}
        """;

    private static HttpClient Client(TestGateway gateway)
    {
        var client = new HttpClient { BaseAddress = gateway.HttpBase };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestGateway.DefaultKey);
        return client;
    }

    private static Task<HttpResponseMessage> ChatAsync(HttpClient client, string model = "gpt-4o", bool stream = false)
        => client.PostAsync("/v1/chat/completions", new StringContent(
            $$"""{"model":"{{model}}","max_tokens":100,"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"Hello"}]}""",
            Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

    private static async Task<JsonElement> BudgetAsync(TestGateway gateway, string name)
    {
        using var client = new HttpClient { BaseAddress = gateway.HttpBase };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        using var document = JsonDocument.Parse(await client.GetStringAsync("/admin/v1/budgets", TestContext.Current.CancellationToken));
        return document.RootElement.GetProperty("data").EnumerateArray().Single(b => b.GetProperty("name").GetString() == name).Clone();
    }

    private static void Replies(FakeOpenAi upstream, int count, int outputTokens = 100)
    {
        for (var i = 0; i < count; i++)
        {
            upstream.Replies.Enqueue(new FakeReply { Text = "ok", OutputTokens = outputTokens });
        }
    }

    private const string FiveDollarBudget = """
        budgets:
          - { name: ds-monthly, scope: { team: data-science }, limit_usd: 5, period: month }
        """;

    [Fact]
    public async Task Chat_200ConcurrentAgainstBudgetForFifty_ExactlyFiftyReachTheProvider()
    {
        await using var upstream = await FakeOpenAi.StartNewAsync();
        Replies(upstream, 200);
        await using var gateway = await TestGateway.StartAsync(Config(upstream, FiveDollarBudget));
        using var client = Client(gateway);

        var responses = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => ChatAsync(client)));

        Assert.Equal(50, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(150, responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests));
        var refusal = responses.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        using var error = JsonDocument.Parse(await refusal.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("budget_exceeded", error.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("ds-monthly", error.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.NotNull(refusal.Headers.RetryAfter);
        Assert.True(refusal.Headers.Contains("x-gateway-budget-reset"));
        Assert.Equal(50, upstream.CallCount);
        var budget = await BudgetAsync(gateway, "ds-monthly");
        Assert.Equal(5.0, budget.GetProperty("committed_usd").GetDouble(), 9);
        Assert.Equal(0, budget.GetProperty("reserved_usd").GetDouble());
        Assert.Equal("exhausted", budget.GetProperty("state").GetString());
    }

    [Fact]
    public async Task Chat_TwoReplicasSharingRedis_AdmitExactlyFiftyBetweenThem()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var upstream = await FakeOpenAi.StartNewAsync();
        Replies(upstream, 200);
        await using var replicaA = await TestGateway.StartAsync(Config(upstream, FiveDollarBudget), redis: redis.Uri);
        await using var replicaB = await TestGateway.StartAsync(Config(upstream, FiveDollarBudget), redis: redis.Uri);
        using var clientA = Client(replicaA);
        using var clientB = Client(replicaB);

        var responses = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => ChatAsync(i % 2 == 0 ? clientA : clientB)));

        Assert.Equal(50, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(50, upstream.CallCount);
        Assert.Equal(5.0, (await BudgetAsync(replicaB, "ds-monthly")).GetProperty("committed_usd").GetDouble(), 9);
    }

    [Fact]
    public async Task Chat_CrossingThresholds_AlertsOnceDowngradesThenRefusesWithoutCallingProvider()
    {
        await using var upstream = await FakeOpenAi.StartNewAsync();
        await using var webhook = await FakeWebhook.StartNewAsync();
        var alert = new TaskCompletionSource<RecordedRequest>(TaskCreationOptions.RunContinuationsAsynchronously);
        webhook.Received += r => alert.TrySetResult(r);
        await using var gateway = await TestGateway.StartAsync(Config(upstream, """
            budgets:
              - name: ds-monthly
                scope: { team: data-science }
                limit_usd: 1
                period: month
                alerts: [0.5]
                downgrade: { at: 0.8, models: { gpt-4o: gpt-4o-mini } }
                hard_cap: true
            """, $"""
            alerts:
              webhook: {webhook.Url}alerts
            """));
        using var client = Client(gateway);

        for (var i = 0; i < 8; i++)
        {
            Replies(upstream, 1);
            using var ok = await ChatAsync(client);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal("gpt-4o", ok.Headers.GetValues("x-gateway-model").Single());
            Assert.True(ok.Headers.Contains("x-gateway-budget-remaining"));
        }
        var posted = await alert.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        using (var body = JsonDocument.Parse(posted.Body))
        {
            Assert.Equal("ds-monthly", body.RootElement.GetProperty("budget").GetString());
            Assert.Equal(0.5, body.RootElement.GetProperty("threshold").GetDouble());
        }

        // At 80%: gpt-4o requests are served by gpt-4o-mini ($0.05 each), and the response says why.
        Replies(upstream, 1);
        using var downgraded = await ChatAsync(client);
        Assert.Equal(HttpStatusCode.OK, downgraded.StatusCode);
        Assert.Equal("gpt-4o-mini", downgraded.Headers.GetValues("x-gateway-model").Single());
        Assert.Contains("ds-monthly", downgraded.Headers.GetValues("x-gateway-downgrade-reason").Single(), StringComparison.Ordinal);
        Assert.Contains("gpt-4o-mini-2024-07-18", upstream.LastRequest.Body, StringComparison.Ordinal);

        // Fill to the limit, then the next request is refused before the provider is called.
        Replies(upstream, 10);
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 10 && refused is null; i++)
        {
            var response = await ChatAsync(client);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                refused = response;
            }
        }
        Assert.NotNull(refused);
        var calls = upstream.CallCount;
        using var again = await ChatAsync(client);
        Assert.Equal(HttpStatusCode.TooManyRequests, again.StatusCode);
        Assert.Contains("budget_exceeded", await again.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Equal(calls, upstream.CallCount);
        // A free model stays allowed past the cap.
        Replies(upstream, 1);
        using var free = await ChatAsync(client, model: "llama");
        Assert.Equal(HttpStatusCode.OK, free.StatusCode);
        Assert.Single(webhook.Requests);
    }

    [Fact]
    public async Task Embeddings_SettleReportedUsageAndAreRefusedPastTheCapWithoutAnUpstreamCall()
    {
        await using var upstream = await FakeOpenAi.StartNewAsync();
        await using var gateway = await TestGateway.StartAsync(Config(upstream, """
            budgets:
              - { name: ds-monthly, scope: { team: data-science }, limit_usd: 5, period: month }
            """).Replace("  llama:", """
              text-embedding-3-small:
                targets: [{ provider: openai, model: text-embedding-3-small }]
                price: { input: 1000000, output: 0 }
              llama:
            """.TrimEnd()));
        using var client = Client(gateway);
        Task<HttpResponseMessage> EmbedAsync() => client.PostAsync("/v1/embeddings",
            new StringContent("""{"model":"text-embedding-3-small","input":"hello"}""", Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        using var first = await EmbedAsync();
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        // The fake reports one token per character: 5 tokens at $1 each.
        var budget = await BudgetAsync(gateway, "ds-monthly");
        Assert.Equal(5, budget.GetProperty("committed_usd").GetDouble(), 9);
        Assert.Equal(0, budget.GetProperty("reserved_usd").GetDouble());

        using var second = await EmbedAsync();
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.Contains("budget_exceeded", await second.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Equal(1, upstream.CallCount);
    }

    [Fact]
    public async Task ChatStream_UsageFromUpstream_SettlesActualCost()
    {
        await using var upstream = await FakeOpenAi.StartNewAsync();
        Replies(upstream, 1, outputTokens: 40);
        await using var gateway = await TestGateway.StartAsync(Config(upstream, FiveDollarBudget));
        using var client = Client(gateway);

        using var response = await ChatAsync(client, stream: true);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.EndsWith("data: [DONE]", body.TrimEnd(), StringComparison.Ordinal);
        Assert.Contains("\"include_usage\":true", upstream.LastRequest.Body, StringComparison.Ordinal);
        var budget = await BudgetAsync(gateway, "ds-monthly");
        Assert.Equal(0.04, budget.GetProperty("committed_usd").GetDouble(), 9);
        Assert.Equal(0, budget.GetProperty("reserved_usd").GetDouble());
    }

    [Fact]
    public async Task Chat_OverRequestsPerMinute_Returns429WithRetryAfterAndRateLimitHeaders()
    {
        await using var upstream = await FakeOpenAi.StartNewAsync();
        await using var gateway = await TestGateway.StartAsync(Config(upstream, """
            rate_limits:
              - { name: ds-rpm, scope: { team: data-science }, requests_per_minute: 2, tokens_per_minute: 100000 }
            """));
        using var client = Client(gateway);

        using var first = await ChatAsync(client);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("2", first.Headers.GetValues("x-ratelimit-limit-requests").Single());
        Assert.Equal("1", first.Headers.GetValues("x-ratelimit-remaining-requests").Single());
        Assert.Equal("100000", first.Headers.GetValues("x-ratelimit-limit-tokens").Single());

        // Windows are calendar minutes: if one ends between two requests, the refusal comes a little later.
        var admitted = 1;
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 5 && refused is null; i++)
        {
            var response = await ChatAsync(client);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                admitted++;
            }
            else
            {
                refused = response;
            }
        }

        Assert.NotNull(refused);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Contains("rate_limit_exceeded", await refused.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.InRange(refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 60);
        Assert.Equal("0", refused.Headers.GetValues("x-ratelimit-remaining-requests").Single());
        Assert.InRange(admitted, 2, 4);
        Assert.Equal(admitted, upstream.CallCount);
    }

    [Fact]
    public async Task Chat_OverConcurrency_Returns429UntilAHeldRequestFinishes()
    {
        await using var upstream = await FakeOpenAi.StartNewAsync();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        upstream.Received += _ =>
        {
            if (upstream.CallCount == 2)
            {
                arrived.TrySetResult();
            }
        };
        upstream.Replies.Enqueue(new FakeReply { Text = "held", Gate = gate.Task });
        upstream.Replies.Enqueue(new FakeReply { Text = "held", Gate = gate.Task });
        await using var gateway = await TestGateway.StartAsync(Config(upstream, """
            rate_limits:
              - { name: ds-conc, scope: { team: data-science }, concurrent_requests: 2 }
            """));
        using var client = Client(gateway);

        var held = new[] { ChatAsync(client), ChatAsync(client) };
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        using var refused = await ChatAsync(client);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter!.Delta);
        Assert.Equal(2, upstream.CallCount);

        gate.SetResult();
        foreach (var response in await Task.WhenAll(held))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        using var after = await ChatAsync(client);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task Chat_ProviderFails_ReleasesTheReservation()
    {
        await using var upstream = await FakeOpenAi.StartNewAsync();
        upstream.Replies.Enqueue(FakeReply.Error(400, """{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}}"""));
        await using var gateway = await TestGateway.StartAsync(Config(upstream, FiveDollarBudget));
        using var client = Client(gateway);

        using var failed = await ChatAsync(client);

        Assert.Equal(HttpStatusCode.BadRequest, failed.StatusCode);
        var budget = await BudgetAsync(gateway, "ds-monthly");
        Assert.Equal(0, budget.GetProperty("committed_usd").GetDouble());
        Assert.Equal(0, budget.GetProperty("reserved_usd").GetDouble());
    }

    [Fact]
    public async Task AdminBudgets_RequiresAdminKeyAndAppliesAdjustments()
    {
        await using var upstream = await FakeOpenAi.StartNewAsync();
        await using var gateway = await TestGateway.StartAsync(Config(upstream, FiveDollarBudget));
        using var anonymous = new HttpClient { BaseAddress = gateway.HttpBase };
        using var wrongKey = Client(gateway);

        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/admin/v1/budgets", TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrongKey.GetAsync("/admin/v1/budgets", TestContext.Current.CancellationToken)).StatusCode);

        using var admin = new HttpClient { BaseAddress = gateway.HttpBase };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        using var adjusted = await admin.PostAsync("/admin/v1/budgets/ds-monthly/adjustments", new StringContent("""{"amount_usd": 4.5}""", Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, adjusted.StatusCode);
        var budget = await BudgetAsync(gateway, "ds-monthly");
        Assert.Equal(4.5, budget.GetProperty("committed_usd").GetDouble(), 9);
        Assert.Equal(0.5, budget.GetProperty("remaining_usd").GetDouble(), 9);
        Assert.Equal("month", budget.GetProperty("period").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsync("/admin/v1/budgets/nope/adjustments", new StringContent("""{"amount_usd": 1}""", Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken)).StatusCode);
    }
}
