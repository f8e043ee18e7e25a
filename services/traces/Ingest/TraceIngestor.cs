using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using System.Text;
using Gateway.Common.Configuration;
using Gateway.Common.Hosting;
using Gateway.Contracts.Traces.V1;
using Gateway.Traces.Storage;
using Google.Protobuf;
using Microsoft.Data.Sqlite;

namespace Gateway.Traces.Ingest;

// Takes every trace the bus delivers and gets it into the store exactly once:
// accept without waiting on the store (journaled first, so a killed process loses nothing; see TraceJournal)
// -> hold up to `traces.memory_limit` in memory, past that append to the on-disk spool -> write in batches
// (`batch_size` rows or `flush_milliseconds`, whichever first) -> on failure retry the same batch (same dedup
// token) with exponential backoff -> when the store is back, replay the spool, oldest first. A restart replays
// whatever the spool holds; stopping writes what it can and spools the rest.
public sealed class TraceIngestor : BackgroundService
{
    private static readonly TimeSpan MinBackoff = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(15);
    private const int PoisonAttempts = 5;

    private readonly ITraceStore _store;
    private readonly TracesConfig _options;
    private readonly int _batchSize;
    private readonly TimeSpan _flush;
    private readonly TraceSpool _spool;
    private readonly TimeProvider _time;
    private readonly ILogger<TraceIngestor> _logger;
    private readonly Lock _lock = new();
    private readonly Queue<(TraceEvent Trace, long Segment, byte[] Encoded)> _memory = new();
    private readonly TraceJournal _journal;
    private readonly SpoolLock _spoolLock;
    private readonly SemaphoreSlim _signal = new(0);
    private readonly Meter _meter = new(GatewayDefaults.MeterName);
    private readonly Counter<long> _written;
    private readonly Counter<long> _spilled;
    private readonly Counter<long> _failures;
    private List<TraceEvent>? _inFlight;
    private Dictionary<long, int>? _inFlightSegments;
    private bool _unavailable;
    private long _recovered;
    private bool _spilling;

    public TraceIngestor(ITraceStore store, TracesConfig options, string spoolDirectory, TimeProvider time, ILogger<TraceIngestor> logger)
    {
        _store = store;
        _options = options;
        _batchSize = options.BatchSize ?? store.Batching.Rows;
        _flush = TimeSpan.FromMilliseconds(options.FlushMilliseconds ?? store.Batching.FlushMilliseconds);
        _spoolLock = SpoolLock.Acquire(spoolDirectory);
        _spool = new TraceSpool(spoolDirectory);
        _journal = new TraceJournal(Path.Combine(spoolDirectory, "journal"));
        // What a killed process had accepted goes to the spool: replayed first, deduplicated against the store.
        foreach (var leftover in _journal.Leftovers)
        {
            var traces = TraceSpool.Read(leftover);
            _spool.Append(traces);
            _recovered += traces.Count;
            TraceJournal.Forget(leftover);
        }
        _time = time;
        _logger = logger;
        _written = _meter.CreateCounter<long>("gateway.traces.written", description: "Trace rows written to the store");
        _spilled = _meter.CreateCounter<long>("gateway.traces.spilled", description: "Traces spilled to the on-disk spool while the store was away");
        _failures = _meter.CreateCounter<long>("gateway.traces.store_failures", description: "Failed writes to the trace store");
        _meter.CreateObservableGauge("gateway.traces.pending", () => Pending, description: "Traces accepted and not yet in the store");
    }

    // Raised after each successful batch with its row count (tests wait on it instead of sleeping).
    public event Action<int>? Written;

    // Raised when the store goes away (false) and when it is back (true).
    public event Action<bool>? AvailabilityChanged;

    public ITraceStore Store => _store;

    // Completes once the store's schema is in place (the first thing the ingestor does).
    public Task Ready => _ready.Task;

    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TraceSpool Spool => _spool;

    public long Pending
    {
        get
        {
            lock (_lock)
            {
                return _memory.Count + (_inFlight?.Count ?? 0) + _spool.Count;
            }
        }
    }

    public bool StoreUnavailable => _unavailable;

    // Never waits on the store: memory first, then disk.
    public void Accept(TraceEvent trace)
    {
        // Encoded once: the journal writes these bytes and the SQLite store keeps them.
        var encoded = trace.ToByteArray();
        lock (_lock)
        {
            var segment = _journal.Append(encoded);
            if (_memory.Count < _options.MemoryLimit)
            {
                _memory.Enqueue((trace, segment, encoded));
            }
            else
            {
                _spool.Append([trace]);
                _journal.Done(segment, 1);
                _spilled.Add(1);
                if (!_spilling)
                {
                    _spilling = true;
                    TracesLog.Spilled(_logger, _spool.Count, _spool.DirectoryPath, _options.MemoryLimit);
                }
            }
        }
        if (_signal.CurrentCount == 0)
        {
            _signal.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await RetryAsync(async ct =>
        {
            await _store.MigrateAsync(ct);
            TracesLog.Migrated(_logger, _store.GetType().Name);
        }, 0, stoppingToken);
        _ready.TrySetResult();
        while (!stoppingToken.IsCancellationRequested)
        {
            await ReplaySpoolAsync(stoppingToken);
            var (batch, encoded) = await NextBatchAsync(stoppingToken);
            if (batch.Count > 0)
            {
                await WriteAsync(batch, stoppingToken, encoded);
            }
        }
    }

    private async Task ReplaySpoolAsync(CancellationToken cancellationToken)
    {
        foreach (var file in _spool.SealedFiles())
        {
            var read = TraceSpool.Read(file);
            TracesLog.ReplayingSpool(_logger, read.Count, Path.GetFileName(file));
            // A killed process may have stored some of its journaled traces already; stores that append would keep both.
            var traces = Interlocked.Read(ref _recovered) > 0 ? await WithoutStoredAsync(read, cancellationToken) : read;
            foreach (var chunk in traces.Chunk(_batchSize))
            {
                await WriteAsync([.. chunk], cancellationToken);
            }
            _spool.Delete(file, read.Count);
        }
        Interlocked.Exchange(ref _recovered, 0);
        lock (_lock)
        {
            _spilling = false;
        }
    }

    // Up to batch_size traces; waits at most flush_milliseconds after the first one arrives.
    private async Task<(List<TraceEvent> Batch, List<byte[]> Encoded)> NextBatchAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            lock (_lock)
            {
                if (_memory.Count > 0 || _spool.Count > 0)
                {
                    break;
                }
            }
            await _signal.WaitAsync(cancellationToken);
        }
        var deadline = _time.GetTimestamp();
        while (true)
        {
            lock (_lock)
            {
                if (_memory.Count >= _batchSize || _spool.Count > 0)
                {
                    break;
                }
            }
            var left = _flush - _time.GetElapsedTime(deadline);
            if (left <= TimeSpan.Zero || !await _signal.WaitAsync(left, cancellationToken))
            {
                break;
            }
        }
        lock (_lock)
        {
            var batch = new List<TraceEvent>(Math.Min(_memory.Count, _batchSize));
            var encoded = new List<byte[]>(batch.Capacity);
            var segments = new Dictionary<long, int>();
            while (batch.Count < _batchSize && _memory.TryDequeue(out var entry))
            {
                batch.Add(entry.Trace);
                encoded.Add(entry.Encoded);
                segments[entry.Segment] = segments.GetValueOrDefault(entry.Segment) + 1;
            }
            _inFlight = batch;
            _inFlightSegments = segments;
            return (batch, encoded);
        }
    }

    // `encoded`: the traces' protobuf encodings when the journal made them (see ITraceStore.WriteAsync).
    private async Task WriteAsync(List<TraceEvent> batch, CancellationToken cancellationToken, IReadOnlyList<byte[]>? encoded = null)
    {
        lock (_lock)
        {
            _inFlight = batch;
        }
        var token = BatchToken(batch);
        var written = await RetryAsync(ct => _store.WriteAsync(batch, encoded, token, ct), batch.Count, cancellationToken, batch);
        lock (_lock)
        {
            _inFlight = null;
            // In the store, or in the dead-letter file: either way no longer only in memory.
            foreach (var (segment, count) in _inFlightSegments ?? [])
            {
                _journal.Done(segment, count);
            }
            _inFlightSegments = null;
        }
        if (written)
        {
            _written.Add(batch.Count);
            Written?.Invoke(batch.Count);
        }
    }

    // Retries transient failures until they pass (or the service stops); a batch the store keeps refusing
    // for another reason goes to a dead-letter file after a few attempts instead of blocking the rest.
    private async Task<bool> RetryAsync(Func<CancellationToken, Task> action, int count, CancellationToken cancellationToken, List<TraceEvent>? batch = null)
    {
        var delay = MinBackoff;
        var refusals = 0;
        while (true)
        {
            try
            {
                await action(cancellationToken);
                if (_unavailable)
                {
                    _unavailable = false;
                    TracesLog.StoreRecovered(_logger, Pending);
                    AvailabilityChanged?.Invoke(true);
                }
                return true;
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                _failures.Add(1);
                var error = Describe(e);
                if (!IsTransient(e) && batch is not null && ++refusals >= PoisonAttempts)
                {
                    var file = DeadLetter(batch);
                    TracesLog.DeadLettered(_logger, batch.Count, refusals, error, file);
                    return false;
                }
                if (!_unavailable)
                {
                    _unavailable = true;
                    AvailabilityChanged?.Invoke(false);
                }
                TracesLog.StoreUnavailable(_logger, error, Pending, (long)delay.TotalMilliseconds);
                await Task.Delay(delay, _time, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, delay.Ticks * 2));
            }
        }
    }

    private static bool IsTransient(Exception e) => e is HttpRequestException or IOException or TimeoutException or OperationCanceledException
        || (e is SqliteException sqlite && sqlite.SqliteErrorCode is 5 or 6) || e.InnerException is HttpRequestException or IOException;

    private static string Describe(Exception e) => e is HttpRequestException { HttpRequestError: var kind } ? $"{e.GetType().Name}: {kind}" : e.GetType().Name;

    private string DeadLetter(List<TraceEvent> batch)
    {
        var directory = Path.Combine(_spool.DirectoryPath, "dead-letter");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"{BatchToken(batch)}.spool");
        using var file = File.Create(path);
        foreach (var trace in batch)
        {
            Google.Protobuf.MessageExtensions.WriteDelimitedTo(trace, file);
        }
        return path;
    }

    // The same batch always gets the same token, so a retried insert that had in fact landed is dropped.
    public static string BatchToken(IReadOnlyList<TraceEvent> batch)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var trace in batch)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(trace.RequestId));
            hash.AppendData("\n"u8);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..32];
    }

    // Stopping: one more try at the store for what is left (no retries), the rest goes to the spool so that
    // the next start replays it.
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        List<TraceEvent> left;
        lock (_lock)
        {
            left = [.. _inFlight ?? [], .. _memory.Select(m => m.Trace)];
            _memory.Clear();
            _inFlight = null;
            _inFlightSegments = null;
        }
        if (left.Count > 0 && !_unavailable)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(TimeSpan.FromSeconds(5));
            var done = 0;
            try
            {
                foreach (var chunk in left.Chunk(_batchSize))
                {
                    await _store.WriteAsync(chunk, BatchToken(chunk), deadline.Token);
                    done += chunk.Length;
                    _written.Add(chunk.Length);
                    Written?.Invoke(chunk.Length);
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Whatever did not make it waits in the spool.
            }
            left = left.GetRange(done, left.Count - done);
        }
        if (left.Count > 0)
        {
            _spool.Append(left);
        }
        _spool.Dispose();
        _journal.Clear();
    }

    private async Task<List<TraceEvent>> WithoutStoredAsync(List<TraceEvent> traces, CancellationToken cancellationToken)
    {
        var stored = new HashSet<string>(StringComparer.Ordinal);
        foreach (var chunk in traces.Chunk(_batchSize))
        {
            await RetryAsync(async ct => stored.UnionWith(await _store.ExistingAsync([.. chunk.Select(t => t.RequestId)], ct)), 0, cancellationToken);
        }
        return stored.Count == 0 ? traces : [.. traces.Where(t => !stored.Contains(t.RequestId))];
    }

    public override void Dispose()
    {
        base.Dispose();
        _journal.Dispose();
        _spoolLock.Dispose();
        _signal.Dispose();
        _meter.Dispose();
    }
}
