using System.Collections.Concurrent;
using Gateway.Common.Configuration;
using Gateway.Traces.Ingest;
using Gateway.Traces.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Traces.Tests.Ingest;

// Rows per write: the store's own batching unless traces.batch_size says otherwise (SQLite: small batches, so a
// trace is not held in memory long enough to be promoted by the garbage collector; ClickHouse: large ones).
public sealed class BatchingTests : IAsyncDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "gateway-batching-tests", Guid.NewGuid().ToString("N"));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SqliteStore_BatchSizeUnset_WritesTheStoresSmallBatches()
    {
        var batches = await BatchesAsync(new TracesConfig(), traces: 250);
        Assert.Equal([100, 100, 50], batches);
    }

    [Fact]
    public async Task SqliteStore_BatchSizeConfigured_WritesThoseBatches()
    {
        var batches = await BatchesAsync(new TracesConfig { BatchSize = 40 }, traces: 250);
        Assert.Equal([40, 40, 40, 40, 40, 40, 10], batches);
    }

    [Fact]
    public async Task ClickHouseStore_KeepsLargeBatches()
    {
        await using var store = ClickHouseTraceStore.Open("clickhouse://default:@127.0.0.1:1/unused", 30, TimeProvider.System);
        Assert.Equal(new TraceBatching(500, 1000), ((ITraceStore)store).Batching);
    }

    // Accepts every trace before the ingestor starts, so each batch is as large as the batching allows.
    private async Task<int[]> BatchesAsync(TracesConfig options, int traces)
    {
        await using var store = SqliteTraceStore.Open($"sqlite://{_directory}/traces.db");
        var ingestor = new TraceIngestor(store, options, Path.Combine(_directory, "spool"), TimeProvider.System, NullLogger<TraceIngestor>.Instance);
        var batches = new ConcurrentQueue<int>();
        ingestor.Written += batches.Enqueue;
        foreach (var trace in TraceData.Make(traces, "batching"))
        {
            ingestor.Accept(trace);
        }
        await ingestor.StartAsync(Ct);
        try
        {
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (batches.Sum() < traces && waited.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(20, Ct);
            }
            Assert.Equal(traces, await store.CountAsync(new TraceFilter(), Ct));
            return [.. batches];
        }
        finally
        {
            await ingestor.StopAsync(CancellationToken.None);
            ingestor.Dispose();
        }
    }

    public ValueTask DisposeAsync()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
        return ValueTask.CompletedTask;
    }
}
