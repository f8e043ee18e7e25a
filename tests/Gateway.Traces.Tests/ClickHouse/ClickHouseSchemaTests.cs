using System.Globalization;
using Gateway.Common.Errors;
using Gateway.Traces.Ingest;
using Gateway.Traces.Storage;

namespace Gateway.Traces.Tests.ClickHouse;

// Schema, batch insert, dedup and rollups against a current ClickHouse (container or chdb, see ClickHouseServer) via ClickHouse.Driver.
public sealed class ClickHouseSchemaTests(ClickHouseFixture clickHouse)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<long> ScalarAsync(ClickHouseTraceStore store, string sql)
        => Convert.ToInt64((await store.RawAsync(sql, Ct)).Single().Values.Single(), CultureInfo.InvariantCulture);

    [Fact]
    public async Task MigrateAsync_FreshDatabase_CreatesVersionedSchemaOnce()
    {
        await using var store = await clickHouse.NewStoreAsync();
        await store.MigrateAsync(Ct);
        await store.MigrateAsync(Ct);

        var versions = (await store.RawAsync("SELECT version FROM {database}.schema_migrations ORDER BY version", Ct)).Select(r => Convert.ToInt32(r["version"], CultureInfo.InvariantCulture));
        Assert.Equal(ClickHouseTraceStore.Migrations().Select(m => m.Version), versions);
        var tables = (await store.RawAsync($"SELECT name, engine FROM system.tables WHERE database = '{store.Database}' ORDER BY name", Ct))
            .ToDictionary(r => (string)r["name"]!, r => (string)r["engine"]!);
        Assert.Equal("ReplacingMergeTree", tables["traces"]);
        Assert.Equal("SummingMergeTree", tables["spend_hourly"]);
        Assert.Equal("AggregatingMergeTree", tables["latency_hourly"]);
        Assert.Equal("MaterializedView", tables["spend_hourly_mv"]);
        Assert.Equal("MaterializedView", tables["latency_hourly_mv"]);

        var columns = (await store.RawAsync($"SELECT name, type FROM system.columns WHERE database = '{store.Database}' AND table = 'traces'", Ct))
            .ToDictionary(r => (string)r["name"]!, r => (string)r["type"]!);
        Assert.Equal("DateTime64(3, 'UTC')", columns["started_at"]);
        Assert.Equal("LowCardinality(String)", columns["team"]);
        Assert.Equal("Map(String, String)", columns["metadata"]);
        Assert.Equal("Map(LowCardinality(String), UInt32)", columns["guard_findings"]);
        Assert.StartsWith("Array(Tuple(", columns["attempts"], StringComparison.Ordinal);

        var engine = (string)(await store.RawAsync($"SELECT engine_full FROM system.tables WHERE database = '{store.Database}' AND name = 'traces'", Ct)).Single()["engine_full"]!;
        Assert.Contains("PARTITION BY toDate(started_at)", engine, StringComparison.Ordinal);
        Assert.Contains("TTL toDateTime(started_at) + toIntervalDay(30)", engine, StringComparison.Ordinal);
    }

    // The admin API queries the store as soon as the process is up; until the traces service (or this process's
    // ingestor) has run the migrations, ClickHouse says the table is unknown: a 503 to retry, not a 500.
    [Fact]
    public async Task Queries_BeforeTheMigrations_AreTheStoreNotReadyNotAnInternalError()
    {
        await using var store = ClickHouseTraceStore.Open(clickHouse.Require().Uri(clickHouse.NewDatabase()), 30, TimeProvider.System);

        var queries = new Func<Task>[]
        {
            () => store.QueryAsync(new TraceFilter(), Ct),
            () => store.GetAsync("req-1", Ct),
            () => store.SeriesAsync(new TraceFilter(), TraceGroup.Team, TimeSpan.FromHours(1), Ct),
            () => store.LatencyAsync(new TraceFilter(), TraceGroup.Model, Ct),
        };
        foreach (var query in queries)
        {
            var failure = await Assert.ThrowsAnyAsync<Exception>(query);
            var error = TraceStoreFailures.AsUnavailable(failure);
            Assert.NotNull(error);
            Assert.Equal(503, ErrorMapping.HttpStatus(error.Kind));
            Assert.Equal("store_unavailable", error.Code);
        }

        await store.MigrateAsync(Ct);
        Assert.Empty((await store.QueryAsync(new TraceFilter(), Ct)).Traces);
        // Any other server error stays what it is (a bug to see in the logs, not a store to wait for).
        var other = await Assert.ThrowsAnyAsync<Exception>(() => store.RawAsync("SELECT no_such_function_xyz(1)", Ct));
        Assert.Null(TraceStoreFailures.AsUnavailable(other));
    }

    [Fact]
    public async Task MigrateAsync_RetentionChanged_MovesTheTtl()
    {
        var database = clickHouse.NewDatabase();
        await using (var first = ClickHouseTraceStore.Open(clickHouse.Require().Uri(database), 30, TimeProvider.System))
        {
            await first.MigrateAsync(Ct);
        }
        await using var second = ClickHouseTraceStore.Open(clickHouse.Require().Uri(database), 7, TimeProvider.System);
        await second.MigrateAsync(Ct);
        var engine = (string)(await second.RawAsync($"SELECT engine_full FROM system.tables WHERE database = '{database}' AND name = 'traces'", Ct)).Single()["engine_full"]!;
        Assert.Contains("toIntervalDay(7)", engine, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WriteAsync_LargeBatch_EveryRowLandsWithRollups()
    {
        await using var store = await clickHouse.NewStoreAsync();
        var traces = TraceData.Make(2000, "bulk");
        await store.WriteAsync(traces, TraceIngestor.BatchToken(traces), Ct);

        Assert.Equal(2000, await ScalarAsync(store, "SELECT count() FROM {database}.traces"));
        Assert.Equal(2000, await ScalarAsync(store, "SELECT sum(requests) FROM {database}.spend_hourly"));
        Assert.Equal(traces.Count(t => t.Status != "ok"), await ScalarAsync(store, "SELECT sum(errors) FROM {database}.spend_hourly"));
        Assert.Equal(traces.Sum(t => (long)t.Usage.InputTokens), await ScalarAsync(store, "SELECT sum(input_tokens) FROM {database}.spend_hourly"));
        Assert.Equal(2000, await ScalarAsync(store, "SELECT countMerge(requests) FROM {database}.latency_hourly"));
        var spend = await store.RawAsync("SELECT team, sum(cost_usd) AS cost FROM {database}.spend_hourly GROUP BY team ORDER BY team", Ct);
        foreach (var row in spend)
        {
            Assert.Equal(traces.Where(t => t.Principal.Team == (string)row["team"]!).Sum(t => t.CostUsd), Convert.ToDouble(row["cost"], CultureInfo.InvariantCulture), 9);
        }
    }

    [Fact]
    public async Task WriteAsync_SameBatchRetried_DroppedBeforeTheTableAndTheRollups()
    {
        await using var store = await clickHouse.NewStoreAsync();
        var batch = TraceData.Make(250, "retry");
        var token = TraceIngestor.BatchToken(batch);
        // The first insert landed but its answer was lost; the ingestor retries the same batch.
        await store.WriteAsync(batch, token, Ct);
        await store.WriteAsync(batch, token, Ct);
        await store.WriteAsync(batch, token, Ct);

        // No FINAL: the duplicate never reached the table, and the hourly rollups counted each request once.
        Assert.Equal(250, await ScalarAsync(store, "SELECT count() FROM {database}.traces"));
        Assert.Equal(250, await ScalarAsync(store, "SELECT sum(requests) FROM {database}.spend_hourly"));
        Assert.Equal(250, await ScalarAsync(store, "SELECT countMerge(requests) FROM {database}.latency_hourly"));
    }

    [Fact]
    public async Task WriteAsync_ReplayedEvent_ReplacedAtMerge()
    {
        await using var store = await clickHouse.NewStoreAsync();
        var traces = TraceData.Make(40, "merge");
        await store.WriteAsync(traces, TraceIngestor.BatchToken(traces), Ct);
        await store.WriteAsync(traces[..10], TraceIngestor.BatchToken(traces[..10]), Ct);
        Assert.Equal(40, await ScalarAsync(store, "SELECT count() FROM {database}.traces FINAL"));
        await store.RawAsync("OPTIMIZE TABLE {database}.traces FINAL", Ct);
        Assert.Equal(40, await ScalarAsync(store, "SELECT count() FROM {database}.traces"));
    }

    [Fact]
    public void Statements_SplitsOnTrailingSemicolonsAndDropsComments()
    {
        var statements = ClickHouseTraceStore.Statements("-- a comment\nCREATE TABLE a (x String DEFAULT ';');\n\nCREATE VIEW b AS\nSELECT 1;\n").ToList();
        Assert.Equal(["CREATE TABLE a (x String DEFAULT ';')", "CREATE VIEW b AS\nSELECT 1"], statements.Select(s => s.ReplaceLineEndings("\n")));
    }
}
