using Gateway.Common.Storage;
using Microsoft.Data.Sqlite;

namespace Gateway.Common.Tests.Storage;

public sealed class StateDatabaseTests : IAsyncLifetime
{
    private const string Schema = "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, owner TEXT NOT NULL);";
    private const string Insert = "INSERT INTO items (id, owner) VALUES (@id, @o)";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "gateway-state-tests", Guid.NewGuid().ToString("N"));
    private string _path = "";
    private StateDatabase _db = null!;

    public ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        _path = Path.Combine(_directory, "state.db");
        _db = StateDatabase.Open($"sqlite://{_path}", Schema);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _db.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task WriteAsync_ManyConcurrentWriters_AllCommittedAndVisibleToAFreshConnection()
    {
        const int writers = 500;
        var results = await Task.WhenAll(Enumerable.Range(1, writers).Select(i => Task.Run(() => _db.WriteAsync(Insert, TestContext.Current.CancellationToken, ("@id", i), ("@o", $"writer-{i}")))));

        Assert.All(results, changed => Assert.Equal(1, changed));
        Assert.Equal(writers, await CountOnFreshConnectionAsync());
    }

    // Commits only append to the WAL; the copy into the database file (with its fsyncs) happens on the
    // checkpoint thread once the writes stop, and does happen: the rows reach the database file within seconds.
    [Fact]
    public async Task WriteAsync_ManyCommits_ReachTheDatabaseFileThroughTheBackgroundCheckpoint()
    {
        var ct = TestContext.Current.CancellationToken;
        const int rows = 1_500; // more pages than SQLite's own automatic checkpoint would let pass (1,000)
        var owner = new string('x', 4_000);
        for (var i = 0; i < rows; i++)
        {
            await _db.WriteAsync(Insert, ct, ("@id", i), ("@o", owner));
        }

        var waited = System.Diagnostics.Stopwatch.StartNew();
        // The file grows while the checkpoint copies pages, before the checkpoint reports itself done: wait for both.
        while ((new FileInfo(_path).Length < rows * 4_000L || _db.Checkpoints == 0) && waited.Elapsed < TimeSpan.FromSeconds(15))
        {
            await Task.Delay(100, ct);
        }
        Assert.True(new FileInfo(_path).Length >= rows * 4_000L, $"database file {new FileInfo(_path).Length} bytes");
        Assert.True(_db.Checkpoints > 0);
        Assert.Equal(rows, await CountOnFreshConnectionAsync());
    }

    // Under writes that never pause, a WAL grown past the limit is still checkpointed to its end, so SQLite starts
    // it over (its header's checkpoint sequence number counts the restarts) instead of appending to it for as long
    // as the load lasts. The limit is lowered so that seconds of writes cross it more than once.
    [Fact]
    public async Task WriteAsync_SteadyWritesForSeconds_WalRestartsWhileTheyRun()
    {
        var ct = TestContext.Current.CancellationToken;
        _db.WalRestartFrames = 16;
        await _db.WriteAsync(Insert, ct, ("@id", 0), ("@o", "first"));
        var startSequence = WalCheckpointSequence();
        var owner = new string('x', 1_000);
        var next = 0;
        var running = System.Diagnostics.Stopwatch.StartNew();
        async Task WriteUntilDeadline()
        {
            while (running.Elapsed < TimeSpan.FromSeconds(3.5))
            {
                await _db.WriteAsync(Insert, ct, ("@id", Interlocked.Increment(ref next)), ("@o", owner));
            }
        }
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(WriteUntilDeadline, ct)));

        // SQLite restarts the WAL at the start of a write, so every restart counted here happened under the load.
        var restartsDuringWrites = WalCheckpointSequence() - startSequence;
        Assert.True(restartsDuringWrites >= 2, $"WAL restarted {restartsDuringWrites} times in 3.5 s of writes");
        Assert.Equal(next + 1, await CountOnFreshConnectionAsync());
    }

    [Fact]
    public async Task WriteAsync_WritesQueuedBehindABusyWriter_CommitInOneTransaction()
    {
        var ct = TestContext.Current.CancellationToken;
        await _db.WriteAsync(Insert, ct, ("@id", 0), ("@o", "warm"));
        var before = _db.Commits;

        var queued = await QueueBehindOtherWriterAsync(Enumerable.Range(1, 50).Select(i => (i, $"writer-{i}")).ToList());

        Assert.All(await Task.WhenAll(queued), changed => Assert.Equal(1, changed));
        Assert.Equal(51, await CountOnFreshConnectionAsync());
        // The first write waits for the lock alone; the 49 queued behind it share one transaction.
        Assert.Equal(2, _db.Commits - before);
    }

    [Fact]
    public async Task WriteAsync_OneBadWriteInABatch_FailsAloneAndTheOthersLand()
    {
        var ct = TestContext.Current.CancellationToken;
        await _db.WriteAsync(Insert, ct, ("@id", 7), ("@o", "first"));
        // id 7 again violates the primary key; everything else is fine.
        var writes = Enumerable.Range(1, 20).Select(i => (Id: i == 10 ? 7 : 100 + i, Owner: $"writer-{i}")).ToList();

        var queued = await QueueBehindOtherWriterAsync(writes);

        for (var i = 0; i < writes.Count; i++)
        {
            if (writes[i].Id == 7)
            {
                var error = await Assert.ThrowsAsync<SqliteException>(() => queued[i]);
                Assert.Equal(19, error.SqliteErrorCode); // SQLITE_CONSTRAINT
            }
            else
            {
                Assert.Equal(1, await queued[i]);
            }
        }
        Assert.Equal(20, await CountOnFreshConnectionAsync()); // the first row plus 19 good ones
        await using var owner = await _db.CommandAsync("SELECT owner FROM items WHERE id = 7", ct);
        Assert.Equal("first", await owner.ExecuteScalarAsync(ct));
        // The writer works on after the failure.
        Assert.Equal(1, await _db.WriteAsync(Insert, ct, ("@id", 999), ("@o", "after")));
    }

    [Fact]
    public async Task WriteAsync_BadSqlAmongConcurrentWrites_FailsOnlyItsCaller()
    {
        var ct = TestContext.Current.CancellationToken;
        var good = Enumerable.Range(1, 100).Select(i => Task.Run(() => _db.WriteAsync(Insert, ct, ("@id", i), ("@o", "w")))).ToList();
        var bad = Task.Run(() => _db.WriteAsync("INSERT INTO no_such_table (id) VALUES (@id)", ct, ("@id", 1)));

        await Assert.ThrowsAsync<SqliteException>(() => bad);
        Assert.All(await Task.WhenAll(good), changed => Assert.Equal(1, changed));
        Assert.Equal(100, await CountOnFreshConnectionAsync());
    }

    // Holds SQLite's write lock from a second connection, starts the writes (the first becomes the drainer and
    // waits for the lock, the rest queue behind it), then lets go.
    private async Task<List<Task<int>>> QueueBehindOtherWriterAsync(List<(int Id, string Owner)> writes)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var blocker = new SqliteConnection($"Data Source={_path};Pooling=False");
        await blocker.OpenAsync(ct);
        await using var transaction = (SqliteTransaction)await blocker.BeginTransactionAsync(ct);
        await using (var hold = blocker.CreateCommand())
        {
            hold.Transaction = transaction;
            hold.CommandText = "INSERT INTO items (id, owner) VALUES (-1, 'blocker')";
            await hold.ExecuteNonQueryAsync(ct);
        }
        var first = Task.Run(() => _db.WriteAsync(Insert, ct, ("@id", writes[0].Id), ("@o", writes[0].Owner)), ct);
        var started = TimeProvider.System.GetTimestamp();
        while (!_db.Draining || _db.Queued != 0)
        {
            Assert.True(TimeProvider.System.GetElapsedTime(started) < TimeSpan.FromSeconds(10), "the first write never reached the writer");
            await Task.Yield();
        }
        var tasks = new List<Task<int>> { first };
        foreach (var (id, owner) in writes.Skip(1))
        {
            tasks.Add(Task.Run(() => _db.WriteAsync(Insert, ct, ("@id", id), ("@o", owner)), ct));
        }
        while (_db.Queued < writes.Count - 1)
        {
            Assert.True(TimeProvider.System.GetElapsedTime(started) < TimeSpan.FromSeconds(10), "writes did not queue");
            await Task.Yield();
        }
        await transaction.RollbackAsync(ct);
        return tasks;
    }

    // The WAL header's checkpoint sequence number (big-endian at offset 12): SQLite bumps it on every restart.
    private uint WalCheckpointSequence()
    {
        using var wal = new FileStream(_path + "-wal", FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        Span<byte> header = stackalloc byte[16];
        wal.ReadExactly(header);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header[12..]);
    }

    private async Task<long> CountOnFreshConnectionAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = new SqliteConnection($"Data Source={_path};Pooling=False");
        await connection.OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM items";
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }
}
