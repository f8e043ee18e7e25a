using Microsoft.Data.Sqlite;

namespace Gateway.Common.Storage;

// WAL checkpoints for the SQLite databases written on the request path, run by their writer rather than by
// SQLite. Left to SQLite, every 1,000th page committed makes that commit copy the WAL into the database file and
// fsync both: 4-5 ms on this machine's disk (hundreds under write-back pressure) on the thread-pool thread that
// ran the commit, with every request behind it waiting and, on a one-core pod, nothing else running. The hot
// writers open their connections with Configure (no automatic checkpoint) and run TryCheckpoint about once an
// Interval while they commit, off the request path (SqliteTraceStore on its writer thread; StateDatabase, whose
// writer is the request path, beside it). Durability is unchanged: with synchronous=NORMAL a commit is safe
// from a process kill once it is in the WAL.
public static class WalCheckpointer
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    // For a connection that commits on the request path: no automatic checkpoint, and a WAL file that is cut
    // back to 64 MB when it restarts, so a burst does not leave a large file behind.
    public static void Configure(SqliteConnection connection)
    {
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=67108864;";
        pragma.ExecuteNonQuery();
    }

    // One PASSIVE checkpoint; `walFrames`: the pages in the WAL when it ran. Run by the writer between its
    // commits, nothing lands while it copies, so it reaches the WAL's end and the next commit starts the WAL over
    // from its beginning. A checkpoint beside the writer races it and rarely reaches the end, so under steady load
    // the WAL never restarts: it grew by ~250 MB a minute for the traces database at ~2,500 traces/s and by
    // 64-90 MB for the budget ledger, and every commit appended to pages the OS had to allocate and zero first.
    public static bool TryCheckpoint(SqliteConnection connection, out long walFrames)
    {
        walFrames = 0;
        try
        {
            if (connection.State != System.Data.ConnectionState.Open)
            {
                connection.Open();
            }
            using var checkpoint = connection.CreateCommand();
            checkpoint.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
            // One row: busy, pages in the WAL, pages copied (-1, -1 outside WAL mode).
            using var result = checkpoint.ExecuteReader();
            if (result.Read())
            {
                walFrames = result.GetInt64(1);
            }
            return true;
        }
        catch (SqliteException)
        {
            // Busy (another checkpoint) or the disk refused: the WAL keeps the commits; the next round retries.
            return false;
        }
    }
}
