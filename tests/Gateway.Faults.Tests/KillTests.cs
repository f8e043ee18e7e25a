using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Gateway.Testing.Fakes;
using Gateway.Testing.Servers;

namespace Gateway.Faults.Tests;

// The gateway process killed with SIGKILL in the middle of chat traffic under a budget, prompt writes through
// the admin API and trace writes, then started again on the same state (SQLite files, or PostgreSQL) and
// trace files. Afterwards: the ledger holds exactly the spend of the requests that settled (every 200 among
// them, never one twice, never negative, never past the cap); every acknowledged prompt version is there, whole;
// every request that got a 200 has exactly one trace.
public sealed class KillTests
{
    // The fake reports 11 input and 7 output tokens; at 1000 USD per million tokens that is 0.018 USD a request.
    private const decimal CostPerRequest = 0.018m;
    private const decimal LimitUsd = 3.6m; // 200 requests
    private const int ChatWorkers = 8;
    private const int LoadRuns = 3;
    // Requests ask for up to 20 output tokens, so each reservation covers the 18 tokens the fake reports.

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Yaml(Uri upstream) => $$"""
        providers:
          up: { kind: openai, base_url: "{{upstream}}v1" }
        models:
          gpt-4o:
            targets: [{ provider: up, model: gpt-4o }]
            price: { input: 1000, output: 1000 }
        keys:
        {{TestGateway.Key()}}
        budgets:
          - { name: kill-budget, scope: { team: qa }, limit_usd: {{LimitUsd.ToString(CultureInfo.InvariantCulture)}}, period: month, hard_cap: true }
        """;

    [Fact]
    public Task Kill9_MidLoadOnSqlite_RestartKeepsLedgerPromptsAndTraces() => KillAndRestartAsync(postgres: null);

    [Fact]
    public async Task Kill9_MidLoadOnPostgres_RestartKeepsLedgerPromptsAndTraces()
    {
        await using var postgres = await PostgresServer.StartAsync();
        await KillAndRestartAsync(postgres.Uri);
    }

    private sealed class Tally
    {
        public ConcurrentBag<string> Ok { get; } = [];
        public ConcurrentBag<string> Refused { get; } = [];
        public ConcurrentBag<string> Other { get; } = [];
        public ConcurrentDictionary<int, string> PromptAcks { get; } = new();
        public int Sent;
        public string LastRefusal = "";
    }

    private static async Task KillAndRestartAsync(string? postgres)
    {
        await using var upstream = await FakeOpenAi.StartNewAsync();
        var directory = Path.Combine(Path.GetTempPath(), "gateway-kill-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        await using var gateway = new GatewayProcess(directory, postgres ?? $"sqlite://{directory}/state.db", Yaml(upstream.Url));
        await gateway.StartAsync(Ct);
        var tally = new Tally();

        // First life: load until enough has happened to make the kill interesting, then SIGKILL mid-flight.
        using (var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            var load = RunLoadAsync(gateway, tally, "a", stop.Token);
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while ((tally.Ok.Count < 60 || tally.PromptAcks.Count < 5) && waited.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(20, Ct);
            }
            await gateway.KillAsync();
            await stop.CancelAsync();
            await load;
        }
        var okBeforeKill = tally.Ok.Count;
        var sentBeforeKill = tally.Sent;
        Assert.True(okBeforeKill >= 60, $"the first life served only {okBeforeKill} requests:\n{gateway.Output}");

        // Second life on the same files: nothing held for the killed requests (holds lived in the dead process),
        // and committed spend is what the ledger had booked.
        await gateway.StartAsync(Ct);
        var afterRestart = await BudgetAsync(gateway);
        Assert.Equal(0m, afterRestart.Reserved);
        AssertSpend(afterRestart.Committed, okBeforeKill, sentBeforeKill);

        // Run on until the budget refuses: the cap holds across the crash. Then one request at a time, so that
        // the holds of concurrent requests no longer make the budget look fuller than it is.
        await RunLoadAsync(gateway, tally, "b", Ct, stopWhenRefused: true).WaitAsync(TimeSpan.FromSeconds(120), Ct);
        await RunLoadAsync(gateway, tally, "c", Ct, stopWhenRefused: true, chatWorkers: 1).WaitAsync(TimeSpan.FromSeconds(60), Ct);
        Assert.NotEmpty(tally.Refused);
        Assert.Empty(tally.Other);
        var final = await BudgetAsync(gateway);
        Assert.InRange(final.Committed, 0m, LimitUsd);
        Assert.Equal(0m, final.Reserved);
        AssertSpend(final.Committed, tally.Ok.Count, tally.Sent);
        // The cap was reached, not merely approached: the last refusal was for a request that no longer fitted.
        var refusal = System.Text.RegularExpressions.Regex.Match(tally.LastRefusal, @"may cost up to ([0-9.]+) USD");
        Assert.True(refusal.Success, tally.LastRefusal);
        Assert.True(LimitUsd - final.Committed < decimal.Parse(refusal.Groups[1].Value, CultureInfo.InvariantCulture), $"committed {final.Committed} of {LimitUsd}: {tally.LastRefusal}");

        await AssertPromptsIntactAsync(gateway, tally);
        await AssertEveryServedRequestHasOneTraceAsync(gateway, tally);
    }

    // Spend is whole requests, at least every 200, at most every request sent (a request killed after it settled
    // but before its answer left the process was still paid to the provider: it is charged, once).
    private static void AssertSpend(decimal committed, int ok, int sent)
    {
        Assert.Equal(0m, committed % CostPerRequest);
        var settled = (int)(committed / CostPerRequest);
        Assert.InRange(settled, ok, sent);
    }

    private static async Task RunLoadAsync(GatewayProcess gateway, Tally tally, string life, CancellationToken cancellationToken, bool stopWhenRefused = false, int chatWorkers = ChatWorkers)
    {
        using var refused = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = refused.Token;
        async Task ChatWorkerAsync(int worker)
        {
            for (var i = 0; !token.IsCancellationRequested; i++)
            {
                var id = $"kill-{life}-{worker}-{i}";
                using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
                {
                    Content = new StringContent("""{"model":"gpt-4o","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
                };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestGateway.DefaultKey);
                request.Headers.Add("x-request-id", id);
                Interlocked.Increment(ref tally.Sent);
                try
                {
                    using var response = await gateway.Http.SendAsync(request, token);
                    var body = await response.Content.ReadAsStringAsync(token);
                    if (response.StatusCode == HttpStatusCode.OK && body.Contains("Echo: hi", StringComparison.Ordinal))
                    {
                        tally.Ok.Add(id);
                    }
                    else if (response.StatusCode == HttpStatusCode.TooManyRequests && body.Contains("budget_exceeded", StringComparison.Ordinal))
                    {
                        tally.Refused.Add(id);
                        tally.LastRefusal = body;
                        if (stopWhenRefused)
                        {
                            await refused.CancelAsync();
                        }
                    }
                    else
                    {
                        tally.Other.Add($"{id}: {(int)response.StatusCode} {body}");
                    }
                }
                catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
                {
                    // The process died under this request (or the test is stopping): no answer, no claim.
                    return;
                }
            }
        }
        async Task PromptWriterAsync()
        {
            for (var i = 1; !token.IsCancellationRequested; i++)
            {
                var text = $"{life} version {i}: " + new string('x', 200 + i);
                try
                {
                    var (status, body) = await gateway.AdminAsync(HttpMethod.Post, "/admin/v1/prompts/kill-prompt/versions",
                        JsonSerializer.Serialize(new { type = "text", text, message = $"write {life}-{i}" }), token);
                    Assert.Equal(201, status);
                    tally.PromptAcks[body.GetProperty("version").GetProperty("version").GetInt32()] = text;
                }
                catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
                {
                    return;
                }
            }
        }
        await Task.WhenAll([.. Enumerable.Range(0, chatWorkers).Select(ChatWorkerAsync), PromptWriterAsync()]);
    }

    private static async Task<(decimal Committed, decimal Reserved)> BudgetAsync(GatewayProcess gateway)
    {
        var (status, body) = await gateway.AdminAsync(HttpMethod.Get, "/admin/v1/budgets", null, Ct);
        Assert.Equal(200, status);
        var budget = body.GetProperty("data").EnumerateArray().Single(b => b.GetProperty("name").GetString() == "kill-budget");
        var committed = budget.GetProperty("committed_usd").GetDecimal();
        Assert.True(committed >= 0, $"negative spend: {committed}");
        return (Math.Round(committed, 9), Math.Round(budget.GetProperty("reserved_usd").GetDecimal(), 9));
    }

    // Every acknowledged version is stored with exactly the content that was acknowledged; versions are
    // numbered without gaps (a write cut off by the kill either committed whole or not at all).
    private static async Task AssertPromptsIntactAsync(GatewayProcess gateway, Tally tally)
    {
        var (status, body) = await gateway.AdminAsync(HttpMethod.Get, "/admin/v1/prompts/kill-prompt/versions", null, Ct);
        Assert.Equal(200, status);
        var stored = new Dictionary<int, string>();
        foreach (var version in body.GetProperty("versions").EnumerateArray())
        {
            using var definition = JsonDocument.Parse(version.GetProperty("definition_json").GetString()!);
            stored[version.GetProperty("version").GetInt32()] = definition.RootElement.GetProperty("text").GetString()!;
        }
        Assert.Equal(Enumerable.Range(1, stored.Count), stored.Keys.Order());
        foreach (var (number, text) in tally.PromptAcks)
        {
            Assert.True(stored.TryGetValue(number, out var found), $"acknowledged version {number} is missing");
            Assert.Equal(text, found);
        }
        // Besides those, at most one write per load run whose answer the client never read (the kill, or the run
        // stopping) may have committed: whole, as checked above.
        Assert.InRange(stored.Count, tally.PromptAcks.Count, tally.PromptAcks.Count + LoadRuns);
    }

    // Traces are replayed on start; once every served request's trace is in, none is there twice.
    private static async Task AssertEveryServedRequestHasOneTraceAsync(GatewayProcess gateway, Tally tally)
    {
        var expected = tally.Ok.Concat(tally.Refused).ToHashSet(StringComparer.Ordinal);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        List<string> ids;
        do
        {
            ids = await TraceIdsAsync(gateway);
            if (expected.IsSubsetOf(ids))
            {
                break;
            }
            await Task.Delay(200, Ct);
        }
        while (waited.Elapsed < TimeSpan.FromSeconds(30));
        var missing = expected.Except(ids).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} of {expected.Count} answered requests have no trace, e.g. {string.Join(", ", missing.Take(5))}");
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
    }

    private static async Task<List<string>> TraceIdsAsync(GatewayProcess gateway)
    {
        var ids = new List<string>();
        string? cursor = null;
        do
        {
            var (status, body) = await gateway.AdminAsync(HttpMethod.Get, "/admin/v1/traces?limit=1000" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)), null, Ct);
            Assert.Equal(200, status);
            foreach (var trace in body.GetProperty("data").EnumerateArray())
            {
                ids.Add((trace.TryGetProperty("request_id", out var id) ? id : trace.GetProperty("requestId")).GetString()!);
            }
            cursor = body.TryGetProperty("next_cursor", out var next) && next.ValueKind == JsonValueKind.String ? next.GetString() : null;
        }
        while (cursor is not null);
        return ids;
    }
}
