using Gateway.Contracts.Traces.V1;
using Google.Protobuf;
using Microsoft.Data.Sqlite;

namespace Gateway.Traces;

// The embedded trace store: one row per request id (a replayed event replaces, never duplicates), the
// whole event kept as protobuf next to the columns that queries filter on.
public sealed class SqliteTraceStore : IDisposable
{
    private readonly string _connectionString;
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    private SqliteTraceStore(string connectionString)
    {
        _connectionString = connectionString;
    }

    public static SqliteTraceStore Open(string uri)
    {
        var path = uri.StartsWith("sqlite://", StringComparison.Ordinal) ? uri["sqlite://".Length..] : uri;
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } directory)
        {
            Directory.CreateDirectory(directory);
        }
        var store = new SqliteTraceStore(new SqliteConnectionStringBuilder { DataSource = path, Pooling = true }.ToString());
        using var connection = store.Connect();
        using var command = connection.CreateCommand();
        command.CommandText = """
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS traces (
                request_id TEXT PRIMARY KEY,
                started_at INTEGER NOT NULL,
                team TEXT NOT NULL,
                model TEXT NOT NULL,
                provider TEXT NOT NULL,
                status TEXT NOT NULL,
                event BLOB NOT NULL
            );
            CREATE INDEX IF NOT EXISTS traces_started_at ON traces (started_at);
            """;
        command.ExecuteNonQuery();
        return store;
    }

    private SqliteConnection Connect()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        // WAL with NORMAL sync: commits survive a process crash; only an OS crash can lose the last few.
        // FULL would fsync every trace and cap ingest at the disk's fsync rate.
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous = NORMAL;";
        pragma.ExecuteNonQuery();
        return connection;
    }

    public async Task WriteAsync(TraceEvent trace, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await using var connection = Connect();
            await using var command = connection.CreateCommand();
            command.CommandText = """
                INSERT INTO traces (request_id, started_at, team, model, provider, status, event)
                VALUES ($id, $at, $team, $model, $provider, $status, $event)
                ON CONFLICT (request_id) DO UPDATE SET event = excluded.event, status = excluded.status
                """;
            command.Parameters.AddWithValue("$id", trace.RequestId);
            command.Parameters.AddWithValue("$at", trace.StartedAt?.ToDateTimeOffset().ToUnixTimeMilliseconds() ?? 0);
            command.Parameters.AddWithValue("$team", trace.Principal?.Team ?? "");
            command.Parameters.AddWithValue("$model", trace.ServedModel.Length > 0 ? trace.ServedModel : trace.RequestedModel);
            command.Parameters.AddWithValue("$provider", trace.Provider);
            command.Parameters.AddWithValue("$status", trace.Status);
            command.Parameters.AddWithValue("$event", trace.ToByteArray());
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public async Task<TraceEvent?> GetAsync(string requestId, CancellationToken cancellationToken)
    {
        await using var connection = Connect();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT event FROM traces WHERE request_id = $id";
        command.Parameters.AddWithValue("$id", requestId);
        return await command.ExecuteScalarAsync(cancellationToken) is byte[] bytes ? TraceEvent.Parser.ParseFrom(bytes) : null;
    }

    public async Task<List<TraceEvent>> RecentAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = Connect();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT event FROM traces ORDER BY started_at DESC LIMIT $limit";
        command.Parameters.AddWithValue("$limit", limit);
        var result = new List<TraceEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(TraceEvent.Parser.ParseFrom((byte[])reader[0]));
        }
        return result;
    }

    public void Dispose() => _writeLock.Dispose();
}
