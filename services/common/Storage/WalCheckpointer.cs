using Microsoft.Data.Sqlite;

namespace Gateway.Common.Storage;

// Checkpoints a SQLite database in WAL mode from a thread of its own, so that no request waits for one.
// Left to SQLite, every 1,000th page committed makes that commit copy the WAL into the database file and fsync
// both: 4-5 ms on this machine's disk (hundreds under write-back pressure) on the thread-pool thread that ran
// the commit, with every request behind it waiting and, on a one-core pod, nothing else running. The hot
// writers open their connections with Configure (no automatic checkpoint); this thread runs a PASSIVE
// checkpoint (it never blocks a writer or a reader) about once a second while there were commits. Durability
// is unchanged: with synchronous=NORMAL a commit is safe from a process kill once it is in the WAL.
public sealed class WalCheckpointer : IDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly string _connectionString;
    private readonly Func<long> _commits;
    private readonly ManualResetEventSlim _stop = new();
    private readonly Thread _thread;
    private long _checkpoints;
    private int _disposed;

    // `commits`: a count that grows with every commit; a second without one skips the checkpoint.
    public WalCheckpointer(string connectionString, Func<long> commits)
    {
        _connectionString = connectionString;
        _commits = commits;
        _thread = new Thread(Run) { IsBackground = true, Name = "SQLite checkpoint" };
        _thread.Start();
    }

    // Checkpoints run so far (tests read it to see the thread at work).
    public long Checkpoints => Interlocked.Read(ref _checkpoints);

    // For a connection that commits on the request path: no automatic checkpoint, and a WAL file that is cut
    // back to 64 MB when it restarts, so a burst does not leave a large file behind.
    public static void Configure(SqliteConnection connection)
    {
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=67108864;";
        pragma.ExecuteNonQuery();
    }

    private void Run()
    {
        var seen = _commits();
        while (!_stop.Wait(Interval))
        {
            var commits = _commits();
            if (commits == seen)
            {
                continue;
            }
            seen = commits;
            using var connection = new SqliteConnection(_connectionString);
            if (TryCheckpoint(connection))
            {
                Interlocked.Increment(ref _checkpoints);
            }
            else
            {
                seen = -1;
            }
        }
    }

    // One PASSIVE checkpoint. A database with a single writer thread can run it on that thread between its
    // commits instead of using this class: with no commit landing while it runs, it copies the whole WAL, and
    // the next commit then starts the WAL over from its beginning. Copies that race a writer rarely finish the
    // WAL, so under steady load it grows (250 MB for the traces database in a minute at ~2,500 traces/s), and
    // every commit appends to pages the OS must first allocate and zero.
    public static bool TryCheckpoint(SqliteConnection connection)
    {
        try
        {
            if (connection.State != System.Data.ConnectionState.Open)
            {
                connection.Open();
            }
            using var checkpoint = connection.CreateCommand();
            checkpoint.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
            checkpoint.ExecuteNonQuery();
            return true;
        }
        catch (SqliteException)
        {
            // Busy (another checkpoint) or the disk refused: the WAL keeps the commits; the next round retries.
            return false;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        _stop.Set();
        _thread.Join(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }
}
