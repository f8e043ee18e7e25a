using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Gateway.Common.Storage;

// storage.state: a SQLite file embedded, PostgreSQL in the mesh. Each user (the budget ledger, the stored
// Responses API responses, the prompt store) keeps its own tables, created on first use, in the SQL both databases speak.
public sealed class StateDatabase : IAsyncDisposable
{
    private readonly string _schema;
    private readonly SemaphoreSlim _creating = new(1, 1);
    // SQLite has one writer at a time (a second one would spin in SQLITE_BUSY retries, sleeping a thread):
    // writes queue here and whichever caller finds the writer idle commits the queue (see WriteAsync).
    private const int MaxBatch = 256;
    private readonly ConcurrentQueue<PendingWrite> _pending = new();
    private int _draining;
    private long _commits;
    private readonly Dictionary<string, DbCommand> _prepared = new(StringComparer.Ordinal);
    private DbConnection? _sqliteConnection;
    // WAL checkpoints (see OnCheckpointTick): a timer once an Interval, the work on a thread of their own.
    private Timer? _checkpointTimer;
    private WorkerThread? _checkpointThread;
    private long _commitsAtCheckpoint;
    private int _passRunning;
    private int _checkpointWanted;
    private long _checkpoints;
    private bool _ready;

    private StateDatabase(DbDataSource source, bool isSqlite, string schema)
    {
        Source = source;
        IsSqlite = isSqlite;
        _schema = schema;
    }

    public DbDataSource Source { get; }

    public bool IsSqlite { get; }

    // SQLite transactions committed by WriteAsync, and writes waiting for one: how well writes are grouped.
    internal long Commits => Interlocked.Read(ref _commits);

    internal int Queued => _pending.Count;

    // WAL checkpoints run so far (tests read it to see them happen).
    internal long Checkpoints => Interlocked.Read(ref _checkpoints);

    // WAL length (in pages) past which a checkpoint takes the writer role to restart the WAL: 16 MB of 4 KB pages.
    internal int WalRestartFrames { get; set; } = 4_096;

    internal bool Draining => Volatile.Read(ref _draining) == 1;

    // `schema`: idempotent DDL (CREATE TABLE IF NOT EXISTS ...), run once before the first command.
    public static StateDatabase Open(string stateUri, string schema)
    {
        var source = Open(stateUri, out var isSqlite);
        return new StateDatabase(source, isSqlite, schema);
    }

    // The bare data source, for stores that manage their own schema and commands.
    public static DbDataSource Open(string stateUri, out bool isSqlite)
    {
        var uri = new Uri(stateUri.Replace("sqlite://./", "sqlite:///./", StringComparison.Ordinal), UriKind.Absolute);
        isSqlite = uri.Scheme == "sqlite";
        if (isSqlite)
        {
            var path = stateUri["sqlite://".Length..];
            var directory = Path.GetDirectoryName(Path.GetFullPath(path));
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }
            var builder = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, DefaultTimeout = 30 };
            return SqliteFactory.Instance.CreateDataSource(builder.ConnectionString);
        }
        return NpgsqlDataSource.Create(PostgresConnectionString(uri));
    }

    public static string PostgresConnectionString(Uri uri)
    {
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = uri.AbsolutePath.Trim('/') is { Length: > 0 } db ? Uri.UnescapeDataString(db) : "postgres",
            Timeout = 5,
            CommandTimeout = 10,
        };
        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            builder.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length > 1)
            {
                builder.Password = Uri.UnescapeDataString(parts[1]);
            }
        }
        return builder.ConnectionString;
    }

    // A command with its parameters (`@name`), once the tables exist.
    public async Task<DbCommand> CommandAsync(string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await EnsureSchemaAsync(cancellationToken);
        var command = Source.CreateCommand(sql);
        AddParameters(command, parameters);
        return command;
    }

    // Runs an INSERT/UPDATE/DELETE and returns the rows it changed, once it is committed. On SQLite every write
    // goes through one open connection with one prepared statement per SQL text, in WAL mode with
    // synchronous=NORMAL: a commit survives the process being killed (the WAL is in the OS's hands) without an
    // fsync per request, which held a thread for milliseconds and capped a loaded gateway at a few hundred
    // requests per second. Only an OS crash or power loss can take the last commits.
    //
    // Every SQLite write runs in a transaction (so a write of several statements is atomic; it must not BEGIN one
    // itself). Writes that arrive while another is running are committed together (group commit): the caller that finds
    // the writer idle drains the queue, one transaction per drain, and every caller's task completes only after
    // the transaction holding its write committed. A statement that fails rolls the transaction back and the
    // drain replays its writes one by one, so only the bad write fails. PostgreSQL is not batched: its
    // connections write concurrently and its WAL flush already groups concurrent commits.
    public async Task<int> WriteAsync(string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        if (!IsSqlite)
        {
            await using var command = await CommandAsync(sql, cancellationToken, parameters);
            return await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await EnsureSchemaAsync(cancellationToken);
        var write = new PendingWrite(sql, parameters, cancellationToken);
        _pending.Enqueue(write);
        if (Interlocked.CompareExchange(ref _draining, 1, 0) == 0)
        {
            // SQLite runs synchronously, so on a busy core a write would finish before any other caller ran and
            // no two would ever meet. Stepping behind the work already queued lets the callers in it add their
            // writes first: under load the batch fills. With nothing queued there is no one to wait for, and the
            // step would only cost a thread hop (a wake-up on another thread, which on a shared core can wait a
            // scheduler slice): the write commits at once.
            if (ThreadPool.PendingWorkItemCount > 0)
            {
                await Task.Yield();
            }
            await DrainAsync(write);
        }
        // Not cancellable once queued: a caller that stopped waiting could not tell whether its write landed.
        return await write.Outcome.Task;
    }

    private sealed class PendingWrite(string sql, (string Name, object Value)[] parameters, CancellationToken cancellationToken)
    {
        public string Sql { get; } = sql;

        public (string Name, object Value)[] Parameters { get; } = parameters;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        // Completed by the draining caller; continuations run elsewhere so the drain is not held up by them.
        public TaskCompletionSource<int> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    // Commits batches until the queue is empty. Once the caller's own write is done and more are queued, the
    // rest of the drain moves to the thread pool so this caller is not held up serving others. The flag is
    // cleared before the last look at the queue, so a write queued just after that look finds the flag clear
    // and drains itself: none is left behind. A checkpoint asked for takes the role over between batches.
    private async Task DrainAsync(PendingWrite? own)
    {
        var batch = new List<PendingWrite>();
        while (true)
        {
            while (TakeBatch(batch))
            {
                try
                {
                    await CommitBatchAsync(batch);
                }
                catch (Exception e)
                {
                    // Only closing the connection can throw here; the drain must go on for the writes behind.
                    foreach (var write in batch)
                    {
                        write.Outcome.TrySetException(e);
                    }
                }
                batch.Clear();
                if (Interlocked.Exchange(ref _checkpointWanted, 0) == 1)
                {
                    _ = CheckpointThenDrainAsync();
                    return;
                }
                if (own is { Outcome.Task.IsCompleted: true } && !_pending.IsEmpty)
                {
                    _ = Task.Run(() => DrainAsync(null));
                    return;
                }
            }
            Volatile.Write(ref _draining, 0);
            if (_pending.IsEmpty || Interlocked.CompareExchange(ref _draining, 1, 0) != 0)
            {
                return;
            }
        }
    }

    // Once an Interval while there were commits, a PASSIVE checkpoint on a connection of its own, beside the
    // writer: it never delays a write. Racing the commits it rarely reaches the WAL's end, so under steady load
    // SQLite never starts the WAL over and it grows (64-90 MB a minute for the budget ledger at saturation). Once
    // the WAL is longer than WalRestartFrames, the next checkpoint takes the writer role to finish it
    // (CheckpointThenDrainAsync): writes wait for its fsyncs then, milliseconds to tens of them on a slow disk, so
    // that happens once per 16 MB of WAL rather than every round (every second it doubled p99 at 850 req/s).
    private void OnCheckpointTick(object? state)
    {
        if (Commits == Interlocked.Read(ref _commitsAtCheckpoint) || _checkpointThread is not { } thread
            || Interlocked.CompareExchange(ref _passRunning, 1, 0) != 0)
        {
            return;
        }
        Interlocked.Exchange(ref _commitsAtCheckpoint, Commits);
        thread.RunAsync(CheckpointBesideTheWriter).ContinueWith(
            static (_, self) => Volatile.Write(ref ((StateDatabase)self!)._passRunning, 0), this, TaskScheduler.Default);
    }

    private void CheckpointBesideTheWriter()
    {
        using var connection = new SqliteConnection(Source.ConnectionString);
        if (!WalCheckpointer.TryCheckpoint(connection, out var walFrames))
        {
            return;
        }
        Interlocked.Increment(ref _checkpoints);
        if (walFrames <= WalRestartFrames)
        {
            return;
        }
        // An idle writer is taken at once; a busy one is asked to hand over after its current batch.
        if (Interlocked.CompareExchange(ref _draining, 1, 0) == 0)
        {
            _ = CheckpointThenDrainAsync();
        }
        else
        {
            Volatile.Write(ref _checkpointWanted, 1);
        }
    }

    // Holds the writer role: no commit lands while the checkpoint copies, so it reaches the WAL's end and the next
    // commit restarts the WAL (see WalCheckpointer.TryCheckpoint). It runs on a thread of its own because it
    // fsyncs (milliseconds) and a thread-pool worker blocked that long stalls every request on a one-core pod;
    // writes queued meanwhile wait for it, and the drain then picks them up and hands the role back.
    private async Task CheckpointThenDrainAsync()
    {
        try
        {
            if (_sqliteConnection is SqliteConnection connection && _checkpointThread is { } thread)
            {
                await thread.RunAsync(() =>
                {
                    if (WalCheckpointer.TryCheckpoint(connection, out _))
                    {
                        Interlocked.Increment(ref _checkpoints);
                    }
                });
            }
        }
        catch (Exception)
        {
            // Shutting down, or the checkpoint failed: the WAL keeps every commit and a later round retries. The
            // drain must run whatever happened, or the role is never handed back and every write waits forever.
        }
        await DrainAsync(null);
    }

    private bool TakeBatch(List<PendingWrite> batch)
    {
        while (batch.Count < MaxBatch && _pending.TryDequeue(out var write))
        {
            if (write.CancellationToken.IsCancellationRequested)
            {
                write.Outcome.TrySetCanceled(write.CancellationToken); // never ran
            }
            else
            {
                batch.Add(write);
            }
        }
        return batch.Count > 0;
    }

    private async Task CommitBatchAsync(List<PendingWrite> batch)
    {
        if (batch.Count == 1)
        {
            await ExecuteAloneAsync(batch[0]);
            return;
        }
        var changed = new int[batch.Count];
        DbTransaction? transaction = null;
        try
        {
            var connection = await WriterAsync();
            transaction = await connection.BeginTransactionAsync(CancellationToken.None);
            for (var i = 0; i < batch.Count; i++)
            {
                changed[i] = await ExecuteAsync(connection, batch[i].Sql, batch[i].Parameters, transaction);
            }
            await transaction.CommitAsync(CancellationToken.None);
            Interlocked.Increment(ref _commits);
        }
        catch (Exception)
        {
            // Nothing of the transaction was committed: roll it back (a pooled connection would keep it open),
            // then run each write again on its own so only the ones that fail by themselves report an error.
            await RollBackQuietlyAsync(transaction);
            transaction = null;
            await CloseWriterAsync();
            foreach (var write in batch)
            {
                await ExecuteAloneAsync(write);
            }
            return;
        }
        finally
        {
            if (transaction is not null)
            {
                await transaction.DisposeAsync();
            }
        }
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Outcome.TrySetResult(changed[i]);
        }
    }

    // In a transaction of its own, so a write of several statements lands whole or not at all.
    private async Task ExecuteAloneAsync(PendingWrite write)
    {
        DbTransaction? transaction = null;
        try
        {
            var connection = await WriterAsync();
            transaction = await connection.BeginTransactionAsync(CancellationToken.None);
            var changed = await ExecuteAsync(connection, write.Sql, write.Parameters, transaction);
            await transaction.CommitAsync(CancellationToken.None);
            Interlocked.Increment(ref _commits);
            write.Outcome.TrySetResult(changed);
        }
        catch (Exception e)
        {
            await RollBackQuietlyAsync(transaction);
            transaction = null;
            await CloseWriterAsync(); // reopened by the next write
            write.Outcome.TrySetException(e);
        }
        finally
        {
            if (transaction is not null)
            {
                await transaction.DisposeAsync();
            }
        }
    }

    private static async Task RollBackQuietlyAsync(DbTransaction? transaction)
    {
        try
        {
            if (transaction is not null)
            {
                await transaction.RollbackAsync(CancellationToken.None);
            }
        }
        catch (Exception)
        {
            // SQLite may have rolled it back already (an I/O error does); the connection is closed next anyway.
        }
        if (transaction is not null)
        {
            await transaction.DisposeAsync();
        }
    }

    // Writes run with no cancellation: a drain serves many callers, and one leaving must not abort the others.
    private async Task<int> ExecuteAsync(DbConnection connection, string sql, (string Name, object Value)[] parameters, DbTransaction? transaction = null)
    {
        if (!_prepared.TryGetValue(sql, out var command))
        {
            command = connection.CreateCommand();
            command.CommandText = sql;
            AddParameters(command, parameters);
            _prepared[sql] = command;
        }
        command.Transaction = transaction;
        for (var i = 0; i < parameters.Length; i++)
        {
            command.Parameters[i].Value = parameters[i].Value;
        }
        return await command.ExecuteNonQueryAsync(CancellationToken.None);
    }

    private async Task<DbConnection> WriterAsync()
    {
        if (_sqliteConnection is null)
        {
            _sqliteConnection = await Source.OpenConnectionAsync(CancellationToken.None);
            WalCheckpointer.Configure((SqliteConnection)_sqliteConnection);
            _checkpointThread ??= new WorkerThread("SQLite checkpoint");
            _checkpointTimer ??= new Timer(OnCheckpointTick, null, WalCheckpointer.Interval, WalCheckpointer.Interval);
        }
        return _sqliteConnection;
    }

    private async ValueTask CloseWriterAsync()
    {
        foreach (var command in _prepared.Values)
        {
            await command.DisposeAsync();
        }
        _prepared.Clear();
        if (_sqliteConnection is not null)
        {
            await _sqliteConnection.DisposeAsync();
            _sqliteConnection = null;
        }
    }

    private static void AddParameters(DbCommand command, (string Name, object Value)[] parameters)
    {
        foreach (var (name, value) in parameters)
        {
            Add(command, name, value);
        }
    }

    public static void Add(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    private async Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _ready))
        {
            return;
        }
        await _creating.WaitAsync(cancellationToken);
        try
        {
            if (_ready)
            {
                return;
            }
            if (IsSqlite)
            {
                await using var wal = Source.CreateCommand("PRAGMA journal_mode=WAL;");
                await wal.ExecuteNonQueryAsync(cancellationToken);
            }
            await using var command = Source.CreateCommand(_schema);
            await command.ExecuteNonQueryAsync(cancellationToken);
            Volatile.Write(ref _ready, true);
        }
        finally
        {
            _creating.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_checkpointTimer is not null)
        {
            await _checkpointTimer.DisposeAsync();
        }
        // Waits for a checkpoint in flight, which still uses the writer's connection.
        _checkpointThread?.Dispose();
        await CloseWriterAsync();
        await Source.DisposeAsync();
    }
}
