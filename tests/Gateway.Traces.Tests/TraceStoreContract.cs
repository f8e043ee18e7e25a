using Gateway.Contracts.Traces.V1;
using Gateway.Traces.Ingest;
using Gateway.Traces.Storage;

namespace Gateway.Traces.Tests;

// Every query the admin API and the dashboard use, asserted against both stores with the same data.
public abstract class TraceStoreContract
{
    private const int Count = 300;

    protected abstract Task<ITraceStore> CreateStoreAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(ITraceStore Store, List<TraceEvent> Traces)> SeededAsync()
    {
        var store = await CreateStoreAsync();
        var traces = TraceData.Make(Count);
        foreach (var batch in traces.Chunk(100))
        {
            await store.WriteAsync(batch, TraceIngestor.BatchToken(batch), Ct);
        }
        return (store, traces);
    }

    [Fact]
    public async Task GetAsync_WrittenTrace_ReturnsEveryField()
    {
        var (store, traces) = await SeededAsync();
        await using var _ = store;
        foreach (var expected in new[] { traces[0], traces[7], traces[8], traces[21] })
        {
            var actual = await store.GetAsync(expected.RequestId, Ct);
            Assert.Equal(expected, actual);
        }
        Assert.Null(await store.GetAsync("no-such-request", Ct));
    }

    public static TheoryData<string> Filters() => ["team", "project", "user", "model", "provider", "status", "error_class", "prompt", "experiment", "time", "combined"];

    private static (TraceFilter Filter, Func<TraceEvent, bool> Match) Filter(string name) => name switch
    {
        "team" => (new TraceFilter { Team = "ads" }, t => t.Principal.Team == "ads"),
        "project" => (new TraceFilter { Project = "ranker" }, t => t.Principal.Project == "ranker"),
        "user" => (new TraceFilter { User = "carol" }, t => t.Principal.User == "carol"),
        "model" => (new TraceFilter { Model = "claude-sonnet-4" }, t => t.RequestedModel == "claude-sonnet-4"),
        "provider" => (new TraceFilter { Provider = "onprem" }, t => t.Provider == "onprem"),
        "status" => (new TraceFilter { Status = "error" }, t => t.Status == "error"),
        "error_class" => (new TraceFilter { ErrorClass = "rate_limited" }, t => t.ErrorClass == "rate_limited"),
        "prompt" => (new TraceFilter { PromptName = "support", PromptVersion = 2 }, t => t.PromptName == "support" && t.PromptVersion == 2),
        "experiment" => (new TraceFilter { Experiment = "tone", ExperimentArm = "b", PromptLabel = "production" }, t => t.Experiment == "tone" && t.ExperimentArm == "b" && t.PromptLabel == "production"),
        "time" => (new TraceFilter { From = TraceData.Start.AddHours(1), To = TraceData.Start.AddHours(2) },
            t => t.StartedAt.ToDateTimeOffset() >= TraceData.Start.AddHours(1) && t.StartedAt.ToDateTimeOffset() < TraceData.Start.AddHours(2)),
        _ => (new TraceFilter { Team = "search", Model = "gpt-4o", Status = "ok", From = TraceData.Start.AddMinutes(30) },
            t => t.Principal.Team == "search" && t.RequestedModel == "gpt-4o" && t.Status == "ok" && t.StartedAt.ToDateTimeOffset() >= TraceData.Start.AddMinutes(30)),
    };

    [Theory]
    [MemberData(nameof(Filters))]
    public async Task QueryAsync_Filter_ReturnsExactlyTheMatchingTracesNewestFirst(string name)
    {
        var (store, traces) = await SeededAsync();
        await using var _ = store;
        var (filter, match) = Filter(name);
        var page = await store.QueryAsync(filter with { Limit = 1000 }, Ct);
        var expected = traces.Where(match).Newest().Select(t => t.RequestId).ToList();
        Assert.NotEmpty(expected);
        Assert.Equal(expected, page.Traces.Select(t => t.RequestId));
        Assert.Null(page.NextCursor);
        Assert.All(page.Traces, t => Assert.Equal("", t.RequestBody));
        Assert.Equal(expected.Count, await store.CountAsync(filter, Ct));
    }

    [Fact]
    public async Task ArmsAsync_ExperimentWithFeedback_SummarisesEachArmFromItsTraces()
    {
        var (store, traces) = await SeededAsync();
        await using var _ = store;
        var inExperiment = traces.Where(t => t.Experiment == "tone").ToList();
        var scored = inExperiment.Take(6).ToList();
        foreach (var (trace, i) in scored.Select((t, i) => (t, i)))
        {
            // A later feedback for the same request replaces the earlier one.
            await store.WriteFeedbackAsync(new Feedback { RequestId = trace.RequestId, Score = 0, KeyName = "k", CreatedAt = trace.StartedAt }, Ct);
            await store.WriteFeedbackAsync(new Feedback { RequestId = trace.RequestId, Score = i % 2, Comment = "c" + i, KeyName = "k", CreatedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(trace.StartedAt.ToDateTimeOffset().AddMinutes(1)) }, Ct);
        }

        var arms = await store.ArmsAsync("tone", Ct);

        Assert.Equal(["a", "b"], arms.Select(a => a.Arm));
        foreach (var arm in arms)
        {
            var mine = inExperiment.Where(t => t.ExperimentArm == arm.Arm).ToList();
            Assert.Equal(mine.Count, arm.Requests);
            Assert.Equal(mine.Count(t => t.Status != "ok"), arm.Errors);
            Assert.Equal(mine.Average(t => t.CostUsd), arm.CostUsd.Mean, 9);
            Assert.Equal(mine.Average(t => (double)t.Latencies.TotalMs), arm.LatencyMs.Mean, 3);
            var scores = scored.Select((t, i) => (t, i)).Where(x => x.t.ExperimentArm == arm.Arm).Select(x => (double)(x.i % 2)).ToList();
            Assert.Equal(scores.Count, arm.Score.Count);
            Assert.Equal(scores.Count(v => v >= 0.5), arm.PositiveFeedback);
        }
        var withFeedback = await store.GetAsync(scored[1].RequestId, Ct);
        Assert.Equal((1.0, "c1"), (withFeedback!.Feedback.Score, withFeedback.Feedback.Comment));
    }

    [Fact]
    public async Task QueryAsync_Paging_VisitsEveryTraceOnceInOrder()
    {
        var (store, traces) = await SeededAsync();
        await using var _ = store;
        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await store.QueryAsync(new TraceFilter { Team = "search", Limit = 7, Cursor = cursor }, Ct);
            Assert.True(page.Traces.Count <= 7);
            seen.AddRange(page.Traces.Select(t => t.RequestId));
            cursor = page.NextCursor;
            pages++;
        }
        while (cursor is not null && pages < 100);
        Assert.Equal(traces.Where(t => t.Principal.Team == "search").Newest().Select(t => t.RequestId), seen);
    }

    [Theory]
    [InlineData(TraceGroup.Team)]
    [InlineData(TraceGroup.Model)]
    public async Task SeriesAsync_Hourly_MatchesTheRawTraces(TraceGroup group)
    {
        var (store, traces) = await SeededAsync();
        await using var _ = store;
        var points = await store.SeriesAsync(new TraceFilter(), group, TimeSpan.FromHours(1), Ct);
        var expected = traces
            .GroupBy(t => (Hour: new DateTimeOffset(t.StartedAt.ToDateTime().Ticks / TimeSpan.TicksPerHour * TimeSpan.TicksPerHour, TimeSpan.Zero), Key: group == TraceGroup.Team ? t.Principal.Team : TraceData.Model(t)))
            .OrderBy(g => g.Key.Hour).ThenBy(g => g.Key.Key, StringComparer.Ordinal)
            .Select(g => (g.Key.Hour, g.Key.Key, (long)g.Count(), (long)g.Count(t => t.Status != "ok"), g.Sum(t => (long)t.Usage.InputTokens), g.Sum(t => (long)t.Usage.OutputTokens), g.Sum(t => t.CostUsd)))
            .ToList();
        Assert.Equal(expected.Count, points.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            var (hour, key, requests, errors, input, output, cost) = expected[i];
            var point = points[i];
            Assert.Equal((hour, key, requests, errors, input, output), (point.Bucket, point.Group, point.Requests, point.Errors, point.InputTokens, point.OutputTokens));
            Assert.Equal(cost, point.CostUsd, 9);
        }
    }

    [Fact]
    public async Task LatencyAsync_ByModel_PercentilesErrorRateAndSpend()
    {
        var (store, traces) = await SeededAsync();
        await using var _ = store;
        var filter = new TraceFilter { Team = "ads" };
        var rows = await store.LatencyAsync(filter, TraceGroup.Model, Ct);
        var expected = traces.Where(t => t.Principal.Team == "ads").GroupBy(TraceData.Model).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(expected.Keys.Order(), rows.Select(r => r.Group).Order());
        foreach (var row in rows)
        {
            var group = expected[row.Group];
            Assert.Equal(group.Count, row.Requests);
            Assert.Equal(group.Count(t => t.Status != "ok"), row.Errors);
            Assert.Equal((double)group.Count(t => t.Status != "ok") / group.Count, row.ErrorRate, 9);
            Assert.Equal(TraceData.Quantile(group.Select(t => t.Latencies.TotalMs), 0.5), row.P50Ms, 3);
            Assert.Equal(TraceData.Quantile(group.Select(t => t.Latencies.TotalMs), 0.95), row.P95Ms, 3);
            Assert.Equal(TraceData.Quantile(group.Select(t => t.Latencies.OverheadMs), 0.5), row.OverheadP50Ms, 3);
            Assert.Equal(group.Sum(t => t.CostUsd), row.CostUsd, 9);
        }
    }

    [Fact]
    public async Task WriteAsync_ReplayedInOtherBatches_OneRowPerRequestId()
    {
        var (store, traces) = await SeededAsync();
        await using var _ = store;
        // A replay after a crash: the same events, cut into different batches (so different dedup tokens).
        foreach (var batch in traces.Skip(50).Chunk(33))
        {
            await store.WriteAsync(batch, TraceIngestor.BatchToken(batch), Ct);
        }
        Assert.Equal(Count, await store.CountAsync(new TraceFilter(), Ct));
        var page = await store.QueryAsync(new TraceFilter { Limit = 1000 }, Ct);
        Assert.Equal(Count, page.Traces.Select(t => t.RequestId).Distinct().Count());
    }

    [Fact]
    public async Task QueryAsync_ForeignCursor_IsRejected()
    {
        var store = await CreateStoreAsync();
        await using var _ = store;
        await Assert.ThrowsAsync<FormatException>(() => store.QueryAsync(new TraceFilter { Cursor = "not-a-cursor!" }, Ct));
    }
}

public sealed class SqliteStoreQueryTests : TraceStoreContract, IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "gateway-traces-tests", Guid.NewGuid().ToString("N"));

    protected override Task<ITraceStore> CreateStoreAsync()
        => Task.FromResult<ITraceStore>(SqliteTraceStore.Open($"sqlite://{_directory}/{Guid.NewGuid():N}.db"));

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Temp files; the OS cleans up.
        }
    }
}

public sealed class ClickHouseStoreQueryTests(ClickHouse.ClickHouseFixture clickHouse) : TraceStoreContract
{
    protected override async Task<ITraceStore> CreateStoreAsync() => await clickHouse.NewStoreAsync();
}
