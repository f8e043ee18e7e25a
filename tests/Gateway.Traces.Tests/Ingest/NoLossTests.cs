using System.Globalization;
using Gateway.Common.Configuration;
using Gateway.Contracts.Traces.V1;
using Gateway.Traces.Ingest;
using Gateway.Traces.Storage;
using Gateway.Traces.Tests.ClickHouse;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Traces.Tests.Ingest;

// The store goes away under load and comes back; the service restarts with traces still waiting: every trace
// ends up in the store exactly once. Each test has its own ClickHouse engine, since it takes it down.
public sealed class NoLossTests : IAsyncLifetime
{
    private readonly string _spool = Path.Combine(Path.GetTempPath(), "gateway-spool-tests", Guid.NewGuid().ToString("N"));
    private ClickHouseServer? _server;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _server = await ClickHouseServer.StartAsync();

    private TracesConfig Options(int memoryLimit) => new()
    {
        BatchSize = 200,
        FlushMilliseconds = 20,
        MemoryLimit = memoryLimit,
        SpoolDirectory = _spool,
    };

    private TraceIngestor Ingestor(ITraceStore store, TracesConfig options) => new(store, options, _spool, TimeProvider.System, NullLogger<TraceIngestor>.Instance);

    // Completes once the ingestor has nothing left waiting and `total` rows were written.
    private static Task Drained(TraceIngestor ingestor, int total)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var written = 0;
        ingestor.Written += count =>
        {
            if (Interlocked.Add(ref written, count) >= total && ingestor.Pending == 0)
            {
                done.TrySetResult();
            }
        };
        return done.Task;
    }

    private static async Task<long> ScalarAsync(ClickHouseTraceStore store, string sql)
        => Convert.ToInt64((await store.RawAsync(sql, Ct)).Single().Values.Single(), CultureInfo.InvariantCulture);

    [Fact]
    public async Task StoreAwayUnderLoad_ComesBack_EveryTraceExactlyOnce()
    {
        const int total = 6000;
        var database = $"noloss_{Guid.NewGuid():N}"[..20];
        await using var store = ClickHouseTraceStore.Open(_server!.Uri(database), 30, TimeProvider.System);
        var ingestor = Ingestor(store, Options(memoryLimit: 1000));
        var down = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var back = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ingestor.AvailabilityChanged += available => (available ? back : down).TrySetResult();
        var drained = Drained(ingestor, total);
        await ingestor.StartAsync(Ct);
        try
        {
            var traces = TraceData.Make(total, "load");
            var accepted = 0;
            foreach (var chunk in traces.Chunk(100))
            {
                if (accepted == 1000)
                {
                    await _server.SetAvailableAsync(false);
                }
                if (accepted == 1500)
                {
                    // The ingestor has noticed; everything from here on waits in memory, then in the spool.
                    await down.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
                }
                if (accepted == 5000)
                {
                    Assert.True(ingestor.Spool.Count > 0, "past the memory limit, traces should have gone to disk");
                    await _server.SetAvailableAsync(true);
                }
                foreach (var trace in chunk)
                {
                    ingestor.Accept(trace);
                }
                accepted += chunk.Length;
                await Task.Yield();
            }
            await back.Task.WaitAsync(TimeSpan.FromSeconds(60), Ct);
            await drained.WaitAsync(TimeSpan.FromSeconds(120), Ct);
        }
        finally
        {
            await ingestor.StopAsync(CancellationToken.None);
            ingestor.Dispose();
        }

        // Exactly once: no FINAL needed, and the hourly rollups agree.
        Assert.Equal(total, await ScalarAsync(store, "SELECT count() FROM {database}.traces"));
        Assert.Equal(total, await ScalarAsync(store, "SELECT uniqExact(request_id) FROM {database}.traces"));
        Assert.Equal(total, await ScalarAsync(store, "SELECT sum(requests) FROM {database}.spend_hourly"));
        Assert.Empty(Directory.EnumerateFiles(_spool, "*.spool*"));
    }

    [Fact]
    public async Task Restart_WithSpooledTraces_ReplaysThemExactlyOnce()
    {
        var database = $"restart_{Guid.NewGuid():N}"[..20];
        var traces = TraceData.Make(700, "restart");
        await _server!.SetAvailableAsync(false);

        // First life: the store is away the whole time; 500 traces spill to disk, the last 200 are spooled at stop.
        await using (var unreachable = ClickHouseTraceStore.Open(_server.Uri(database), 30, TimeProvider.System))
        {
            var first = Ingestor(unreachable, Options(memoryLimit: 200));
            var down = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            first.AvailabilityChanged += available => down.TrySetResult();
            await first.StartAsync(Ct);
            await down.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
            foreach (var trace in traces)
            {
                first.Accept(trace);
            }
            await first.StopAsync(CancellationToken.None);
            first.Dispose();
        }
        Assert.NotEmpty(Directory.EnumerateFiles(_spool, "*.spool"));
        Assert.Equal(traces.Select(t => t.RequestId), Directory.EnumerateFiles(_spool, "*.spool").Order().SelectMany(TraceSpool.Read).Select(t => t.RequestId).Order());

        // Second life: the store is back.
        await _server.SetAvailableAsync(true);
        await using var store = ClickHouseTraceStore.Open(_server.Uri(database), 30, TimeProvider.System);
        var second = Ingestor(store, Options(memoryLimit: 200));
        var drained = Drained(second, traces.Count);
        await second.StartAsync(Ct);
        try
        {
            await drained.WaitAsync(TimeSpan.FromSeconds(60), Ct);
        }
        finally
        {
            await second.StopAsync(CancellationToken.None);
            second.Dispose();
        }
        Assert.Equal(traces.Count, await ScalarAsync(store, "SELECT count() FROM {database}.traces"));
        Assert.Equal(traces.Count, await ScalarAsync(store, "SELECT sum(requests) FROM {database}.spend_hourly"));
        Assert.Empty(Directory.EnumerateFiles(_spool, "*.spool*"));
    }

    [Fact]
    public async Task SecondProcessOnTheSameSpool_IsRefusedAtStart_UntilTheFirstStops()
    {
        // A second gateway on the same directory would replay the first's live journal as a dead process's.
        await using var store = SqliteTraceStore.Open($"sqlite://{_spool}-traces.db");
        var first = Ingestor(store, Options(memoryLimit: 100));
        var refused = Assert.Throws<InvalidOperationException>(() => Ingestor(store, Options(memoryLimit: 100)));
        Assert.Contains("in use by another gateway process", refused.Message);
        Assert.Contains(Path.GetFullPath(_spool), refused.Message);

        first.Accept(TraceData.Make(1, "locked")[0]);
        first.Dispose();
        using var second = Ingestor(store, Options(memoryLimit: 100));
        // The journal the first left (it was not stopped cleanly) is the second's to replay.
        Assert.Equal(1L, second.Spool.Count);
    }

    [Fact]
    public void Spool_TornLastRecord_KeepsEverythingBeforeIt()
    {
        using (var spool = new TraceSpool(_spool))
        {
            spool.Append(TraceData.Make(3, "torn"));
        }
        var file = Directory.EnumerateFiles(_spool, "*.spool").Single();
        using (var stream = new FileStream(file, FileMode.Append))
        {
            // A crash mid-append: a length prefix promising more bytes than follow.
            stream.Write([0x7f, 0x0a, 0x01]);
        }
        Assert.Equal(["torn-000000", "torn-000001", "torn-000002"], TraceSpool.Read(file).Select(t => t.RequestId));
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        try
        {
            Directory.Delete(_spool, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Nothing was spooled.
        }
    }
}
