using Stopwatch = System.Diagnostics.Stopwatch;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Gateway.Common.Configuration;
using Gateway.Common.Events;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Traces.V1;
using Gateway.Traces.Ingest;
using Gateway.Traces.Storage;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

// dotnet run -c Release --project tests/benchmarks/Gateway.Traces.Benchmarks -- publish
//     BenchmarkDotNet: the cost of publishing one trace on the request path (in-process bus, as embedded).
// dotnet run -c Release --project tests/benchmarks/Gateway.Traces.Benchmarks -- --filter '*EncodeBenchmarks*'
//     BenchmarkDotNet: encoding a trace with ~1 KB bodies for the journal and the SQLite store, twice or once.
// dotnet run -c Release --project tests/benchmarks/Gateway.Traces.Benchmarks -- ingest clickhouse://default:@127.0.0.1:18123/bench [rows] [batch]
//     Rows/s through ClickHouseTraceStore (ClickHouse.Driver, JSONEachRow batches) into a running ClickHouse
//     (or chdb: node tests/tools/chdb-http.js /tmp/chdb-bench 18123); a sqlite:///path/traces.db URI measures the
//     embedded store instead.
if (args.Length > 0 && args[0] == "ingest")
{
    var uri = args.Length > 1 ? args[1] : "clickhouse://default:@127.0.0.1:18123/bench";
    var rows = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 100_000;
    var batchSize = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 5_000;
    await using ITraceStore store = uri.StartsWith("sqlite://", StringComparison.Ordinal)
        ? SqliteTraceStore.Open(uri)
        : ClickHouseTraceStore.Open(uri, 30, TimeProvider.System);
    await store.MigrateAsync(CancellationToken.None);
    // Bodies as the load harness's chat captures them (capture: full, ~1 KB prompt).
    var prompt = string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 23));
    var traces = Enumerable.Range(0, rows).Select(i => Sample.Trace($"bench-{Guid.NewGuid():N}", i)).ToList();
    foreach (var trace in traces)
    {
        trace.Capture = "full";
        trace.RequestBody = $$"""{"model":"gpt-4o","messages":[{"role":"user","content":"{{prompt}}"}],"max_tokens":64}""";
        trace.ResponseBody = """{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Echo"},"finish_reason":"stop"}]}""";
    }
    var clock = Stopwatch.StartNew();
    foreach (var batch in traces.Chunk(batchSize))
    {
        await store.WriteAsync(batch, TraceIngestor.BatchToken(batch), CancellationToken.None);
    }
    clock.Stop();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{rows} rows in {clock.Elapsed.TotalSeconds:0.00} s = {rows / clock.Elapsed.TotalSeconds:0} rows/s (batches of {batchSize})"));
    return;
}
BenchmarkSwitcher.FromTypes([typeof(PublishBenchmarks), typeof(EncodeBenchmarks)]).Run(args.Length > 0 && args[0] == "publish" ? args[1..] : args);

public static class Sample
{
    public static TraceEvent Trace(string id, int i)
    {
        var trace = new TraceEvent
        {
            RequestId = id,
            StartedAt = Timestamp.FromDateTimeOffset(new DateTimeOffset(2026, 11, 27, 10, 0, 0, TimeSpan.Zero).AddMilliseconds(i)),
            Principal = new Principal { KeyName = "ds-prod", Team = "data-science", Project = "churn", Environment = "prod", User = "alice" },
            Api = "chat",
            RequestedModel = "gpt-4o",
            ServedModel = "gpt-4o",
            Provider = "openai",
            UpstreamModel = "gpt-4o-2024-08-06",
            Deployment = "openai/gpt-4o-2024-08-06",
            Status = "ok",
            HttpStatus = 200,
            Usage = new Usage { InputTokens = 420, OutputTokens = 128 },
            CostUsd = 0.00233,
            Latencies = new Latencies { AuthMs = 0.02, GuardInMs = 0.3, BudgetMs = 0.1, RoutingMs = 0.01, ProviderTtftMs = 180, ProviderTotalMs = 640, GuardOutMs = 0.2, TotalMs = 641.2, OverheadMs = 1.2 },
            GuardAction = "ALLOW",
            Capture = "metadata",
        };
        trace.Attempts.Add(new Attempt { Provider = "openai", Model = "gpt-4o", UpstreamModel = "gpt-4o-2024-08-06", HttpStatus = 200, LatencyMs = 640 });
        trace.Metadata["app"] = "churn-scorer";
        return trace;
    }
}

// A trace with bodies as the load harness captures them, framed for the journal and encoded for the SQLite
// store's event column: each encoding on its own (as before), or one encoding whose bytes serve both.
[MemoryDiagnoser]
public class EncodeBenchmarks
{
    private readonly MemoryStream _journal = new();
    private TraceEvent _trace = null!;

    [GlobalSetup]
    public void Setup()
    {
        var prompt = string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 23));
        _trace = Sample.Trace("bench", 1);
        _trace.Capture = "full";
        _trace.RequestBody = $$"""{"model":"gpt-4o","messages":[{"role":"user","content":"{{prompt}}"}],"max_tokens":64}""";
        _trace.ResponseBody = """{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Echo"},"finish_reason":"stop"}]}""";
    }

    [Benchmark(Baseline = true)]
    public byte[] JournalThenStore()
    {
        _journal.Position = 0;
        Google.Protobuf.MessageExtensions.WriteDelimitedTo(_trace, _journal);
        return Google.Protobuf.MessageExtensions.ToByteArray(_trace);
    }

    [Benchmark]
    public byte[] EncodedOnce()
    {
        _journal.Position = 0;
        var encoded = Google.Protobuf.MessageExtensions.ToByteArray(_trace);
        TraceJournal.WriteDelimited(_journal, encoded);
        return encoded;
    }
}

// What the request path pays to hand its trace over: one bounded-channel write (the consumer drains in the
// background into the ingestor's memory queue, as in the embedded gateway).
[MemoryDiagnoser]
public class PublishBenchmarks
{
    private ServiceProvider _services = null!;
    private InProcessEventBus _bus = null!;
    private TraceEvent _trace = null!;

    [GlobalSetup]
    public async Task Setup()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        var directory = Path.Combine(Path.GetTempPath(), "gateway-bench", Guid.NewGuid().ToString("N"));
        services.AddSingleton(new TraceIngestor(new NullStore(), new TracesConfig { MemoryLimit = 10_000_000 }, directory, TimeProvider.System, NullLogger<TraceIngestor>.Instance));
        services.AddEventHandler<Gateway.Traces.TraceEventHandler, TraceEvent>();
        services.AddSingleton<InProcessEventBus>();
        _services = services.BuildServiceProvider();
        _bus = _services.GetRequiredService<InProcessEventBus>();
        await _bus.StartAsync(CancellationToken.None);
        // The ingestor drains the bus's deliveries (into a store that discards them), as in the gateway.
        await _services.GetRequiredService<TraceIngestor>().StartAsync(CancellationToken.None);
        _trace = Sample.Trace("bench", 1);
    }

    [Benchmark]
    public ValueTask PublishTrace() => _bus.PublishAsync(Topics.Traces, _trace, CancellationToken.None);

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _bus.StopAsync(CancellationToken.None);
        await _services.GetRequiredService<TraceIngestor>().StopAsync(CancellationToken.None);
        await _services.DisposeAsync();
    }

    private sealed class NullStore : ITraceStore
    {
        public Task MigrateAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task WriteAsync(IReadOnlyList<TraceEvent> batch, string batchToken, CancellationToken cancellationToken) => Task.CompletedTask;
        public Task<TraceEvent?> GetAsync(string requestId, CancellationToken cancellationToken) => Task.FromResult<TraceEvent?>(null);
        public Task<TracePage> QueryAsync(TraceFilter filter, CancellationToken cancellationToken) => Task.FromResult(new TracePage([], null));
        public Task<IReadOnlyList<SeriesPoint>> SeriesAsync(TraceFilter filter, TraceGroup groupBy, TimeSpan bucket, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<SeriesPoint>>([]);
        public Task<IReadOnlyList<LatencyRow>> LatencyAsync(TraceFilter filter, TraceGroup groupBy, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<LatencyRow>>([]);
        public Task<long> CountAsync(TraceFilter filter, CancellationToken cancellationToken) => Task.FromResult(0L);
        public Task WriteFeedbackAsync(Feedback feedback, CancellationToken cancellationToken) => Task.CompletedTask;
        public Task<IReadOnlyList<Gateway.Common.Analytics.ArmSummary>> ArmsAsync(string experiment, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<Gateway.Common.Analytics.ArmSummary>>([]);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
