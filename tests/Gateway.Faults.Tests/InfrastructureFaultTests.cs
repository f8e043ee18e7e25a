using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Gateway.Testing.Fakes;
using Gateway.Testing.Servers;
using Microsoft.Data.Sqlite;

namespace Gateway.Faults.Tests;

// Redis, PostgreSQL and the SQLite state file going away under traffic and coming back, through the whole
// embedded gateway. What a client sees: 503 in OpenAI's shape while a store the request needs is away (never
// 401, never 500), answers again by itself once it is back. What the books say afterwards: every answered
// request charged exactly once, nothing held, the cap exact.
public sealed class InfrastructureFaultTests
{
    // Output tokens only, 7 per answer at 1000 USD per million: each request reserves and costs exactly 0.007 USD
    // (max_tokens 7), so a 0.35 USD budget admits exactly 50.
    private const decimal Cost = 0.007m;
    private const int Cap = 50;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Yaml(Uri upstream, string extra = "") => $$"""
        providers:
          up: { kind: openai, base_url: "{{upstream}}v1" }
        models:
          gpt-4o:
            targets: [{ provider: up, model: gpt-4o }]
            price: { input: 0, output: 1000 }
        keys:
        {{TestGateway.Key()}}
        budgets:
          - { name: infra, scope: { team: qa }, limit_usd: 0.35, period: month, hard_cap: true }
        {{extra}}
        """;

    private static async Task<(int Status, JsonElement Body)> ChatAsync(HttpClient http, string requestId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o","max_tokens":7,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestGateway.DefaultKey);
        request.Headers.Add("x-request-id", requestId);
        using var response = await http.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    private static void AssertUnavailable((int Status, JsonElement Body) answer, string code)
    {
        Assert.Equal(503, answer.Status);
        var error = answer.Body.GetProperty("error");
        Assert.Equal("server_error", error.GetProperty("type").GetString());
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
    }

    // Until the store is back and a request gets through: automatic recovery, no restart, bounded wait.
    private static async Task<int> UntilAnsweredAsync(HttpClient http, string prefix)
    {
        for (var i = 0; ; i++)
        {
            var (status, body) = await ChatAsync(http, $"{prefix}-{i}");
            if (status == 200)
            {
                return i + 1;
            }
            Assert.True(status == 503, $"while the store comes back: {status} {body}");
            Assert.True(i < 200, "the gateway did not recover within 20 s of the store coming back");
            await Task.Delay(100, Ct);
        }
    }

    // Concurrent requests until the budget refuses; returns how many were answered.
    private static async Task<int> DrainBudgetAsync(HttpClient http, string prefix)
    {
        var ok = 0;
        var other = new ConcurrentBag<string>();
        await Parallel.ForAsync(0, 2 * Cap, new ParallelOptions { MaxDegreeOfParallelism = 10, CancellationToken = Ct }, async (i, _) =>
        {
            var (status, body) = await ChatAsync(http, $"{prefix}-{i}");
            if (status == 200)
            {
                Interlocked.Increment(ref ok);
            }
            else if (!(status == 429 && body.GetProperty("error").GetProperty("code").GetString() == "budget_exceeded"))
            {
                other.Add($"{status} {body}");
            }
        });
        Assert.Empty(other);
        return ok;
    }

    private static async Task<(decimal Committed, decimal Reserved)> BudgetAsync(TestGateway gateway)
    {
        using var http = new HttpClient { BaseAddress = gateway.HttpBase };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "test-admin-key-0123456789");
        using var json = JsonDocument.Parse(await http.GetStringAsync(new Uri("/admin/v1/budgets", UriKind.Relative), Ct));
        var budget = json.RootElement.GetProperty("data").EnumerateArray().Single();
        return (Math.Round(budget.GetProperty("committed_usd").GetDecimal(), 9), Math.Round(budget.GetProperty("reserved_usd").GetDecimal(), 9));
    }

    [Fact]
    public async Task Redis_AwayUnderLoadAndBack_503ThenRecoversAndTheCapIsExact()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var proxy = new TcpChaosProxy(redis.Port);
        await using var upstream = await FakeOpenAi.StartNewAsync();
        await using var gateway = await TestGateway.StartAsync(Yaml(upstream.Url), redis: $"redis://127.0.0.1:{proxy.Port}");
        using var http = new HttpClient { BaseAddress = gateway.HttpBase, Timeout = TimeSpan.FromSeconds(30) };
        var answered = 0;
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(200, (await ChatAsync(http, $"redis-before-{i}")).Status);
            answered++;
        }

        // One request is admitted, then held at the provider while Redis goes away: it settles into an outage.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        upstream.Received += _ => held.TrySetResult();
        upstream.Replies.Enqueue(FakeReply.Say("settled during the outage") with { Gate = release.Task, OutputTokens = 7 });
        var straddling = ChatAsync(http, "redis-straddling");
        await held.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        proxy.SetAway();

        var during = await Task.WhenAll(Enumerable.Range(0, 5).Select(i => ChatAsync(http, $"redis-during-{i}")));
        Assert.All(during, answer => AssertUnavailable(answer, "budget_store_unavailable"));
        release.SetResult();
        Assert.Equal(200, (await straddling).Status);
        answered++;

        proxy.SetBack();
        answered += await UntilAnsweredAsync(http, "redis-back") > 0 ? 1 : 0;
        answered += await DrainBudgetAsync(http, "redis-drain");

        // Exactly the cap, across the outage: the straddling request's settlement landed once Redis was back.
        Assert.Equal(Cap, answered);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        var books = await BudgetAsync(gateway);
        while (books != (Cap * Cost, 0m) && waited.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(100, Ct);
            books = await BudgetAsync(gateway);
        }
        Assert.Equal((Cap * Cost, 0m), books);
    }

    [Fact]
    public async Task Postgres_AwayAndBack_AnswersContinueLedgerWritesLandAndPromptWritesAre503()
    {
        await using var postgres = await PostgresServer.StartAsync();
        await using var proxy = new TcpChaosProxy(postgres.Port);
        await using var upstream = await FakeOpenAi.StartNewAsync();
        var gateway = await TestGateway.StartAsync(Yaml(upstream.Url), state: $"postgres://postgres@127.0.0.1:{proxy.Port}/postgres");
        try
        {
            using var http = new HttpClient { BaseAddress = gateway.HttpBase, Timeout = TimeSpan.FromSeconds(30) };
            using var admin = new HttpClient { BaseAddress = gateway.HttpBase, Timeout = TimeSpan.FromSeconds(30) };
            admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "test-admin-key-0123456789");
            for (var i = 0; i < 5; i++)
            {
                Assert.Equal(200, (await ChatAsync(http, $"pg-before-{i}")).Status);
            }

            proxy.SetAway();
            // Admission runs on counters the gateway already loaded: answers go on; their ledger rows wait.
            for (var i = 0; i < 5; i++)
            {
                Assert.Equal(200, (await ChatAsync(http, $"pg-during-{i}")).Status);
            }
            // A prompt write needs the database: 503 in OpenAI's shape, nothing half-written.
            using (var write = await admin.PostAsync(new Uri("/admin/v1/prompts/outage/versions", UriKind.Relative),
                new StringContent("""{"type":"text","text":"written while away"}""", Encoding.UTF8, "application/json"), Ct))
            {
                var body = await write.Content.ReadAsStringAsync(Ct);
                Assert.True((int)write.StatusCode == 503, $"{(int)write.StatusCode} {body}");
                using var json = JsonDocument.Parse(body);
                Assert.Equal("server_error", json.RootElement.GetProperty("error").GetProperty("type").GetString());
            }

            proxy.SetBack();
            using (var write = await admin.PostAsync(new Uri("/admin/v1/prompts/outage/versions", UriKind.Relative),
                new StringContent("""{"type":"text","text":"written once back"}""", Encoding.UTF8, "application/json"), Ct))
            {
                Assert.Equal(201, (int)write.StatusCode);
            }

            // The durable ledger has all ten: a restart seeds the counters from it.
            gateway = await RestartWhenBookedAsync(gateway, 10 * Cost);
            Assert.Equal((10 * Cost, 0m), await BudgetAsync(gateway));
            using var versions = JsonDocument.Parse(await admin.GetStringAsync(new Uri("/admin/v1/prompts/outage/versions", UriKind.Relative), Ct));
            Assert.Equal(["written once back"], versions.RootElement.GetProperty("versions").EnumerateArray()
                .Select(v => JsonDocument.Parse(v.GetProperty("definition_json").GetString()!).RootElement.GetProperty("text").GetString()));
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    [Fact]
    public async Task SqliteStateLocked_AnswersWaitNotFailAndEverySettlementIsBooked()
    {
        await using var upstream = await FakeOpenAi.StartNewAsync();
        var gateway = await TestGateway.StartAsync(Yaml(upstream.Url));
        try
        {
            using var http = new HttpClient { BaseAddress = gateway.HttpBase, Timeout = TimeSpan.FromSeconds(30) };
            Assert.Equal(200, (await ChatAsync(http, "lock-before")).Status);

            // Another process holds the write lock on the state file for two seconds (a backup tool, a sqlite3 shell).
            var file = Path.Combine(gateway.DataDirectory, "state.db");
            await using (var locker = new SqliteConnection($"Data Source={file};Pooling=False"))
            {
                await locker.OpenAsync(Ct);
                await using (var begin = locker.CreateCommand())
                {
                    begin.CommandText = "BEGIN EXCLUSIVE;";
                    await begin.ExecuteNonQueryAsync(Ct);
                }
                var during = Task.WhenAll(Enumerable.Range(0, 5).Select(i => ChatAsync(http, $"lock-during-{i}")));
                await Task.Delay(2000, Ct);
                await using var commit = locker.CreateCommand();
                commit.CommandText = "COMMIT;";
                await commit.ExecuteNonQueryAsync(Ct);
                Assert.All(await during.WaitAsync(TimeSpan.FromSeconds(30), Ct), answer => Assert.Equal(200, answer.Status));
            }

            gateway = await RestartWhenBookedAsync(gateway, 6 * Cost);
            Assert.Equal((6 * Cost, 0m), await BudgetAsync(gateway));
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    // Restarts once the retried ledger writes have drained (the counters say `expected`), as an operator would.
    private static async Task<TestGateway> RestartWhenBookedAsync(TestGateway gateway, decimal expected)
    {
        var ledger = gateway.Services.GetService(typeof(Gateway.Budget.BudgetLedger)) as Gateway.Budget.BudgetLedger;
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while ((ledger?.PendingRetries ?? 0) > 0 && waited.Elapsed < TimeSpan.FromSeconds(20))
        {
            await Task.Delay(100, Ct);
        }
        Assert.Equal(0, ledger?.PendingRetries ?? 0);
        Assert.Equal(expected, (await BudgetAsync(gateway)).Committed);
        return await gateway.RestartAsync();
    }
}
