using System.Data.Common;
using Gateway.Budget.Store;
using Gateway.Common.Configuration;
using Gateway.Contracts.Inference.V1;
using Google.Protobuf;

namespace Gateway.Edge.OpenAi.Responses;

// A response served with `store: true`: the object as the client received it (for GET) and the whole
// conversation up to and including its answer (what `previous_response_id` continues from).
public sealed record StoredResponse(string Id, string ResponseJson, IReadOnlyList<Message> Conversation);

// Responses per principal in storage.state (SQLite embedded, PostgreSQL in the mesh). Every read and delete
// is scoped to the owner, so another principal's id is simply not found. Rows expire after
// responses.retention_days: reads ignore expired rows, and writes purge them at most every few minutes.
public sealed class ResponseStore : IAsyncDisposable
{
    private static readonly TimeSpan PurgeInterval = TimeSpan.FromMinutes(5);

    private readonly DbDataSource _source;
    private readonly bool _isSqlite;
    private readonly ConfigMonitor _config;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _schema = new(1, 1);
    private bool _ready;
    private long _nextPurge;

    public ResponseStore(ConfigMonitor config, TimeProvider time)
    {
        _config = config;
        _time = time;
        _source = SqlLedger.OpenDataSource(config.Current.Storage.State, out _isSqlite);
    }

    public async Task SaveAsync(string owner, string id, string responseJson, IEnumerable<Message> conversation, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        var now = _time.GetUtcNow();
        var thread = new ChatRequest();
        thread.Messages.AddRange(conversation);
        await using (var command = _source.CreateCommand("INSERT INTO gateway_responses (id, owner, created_at, expires_at, response, conversation) VALUES (@id, @o, @c, @e, @r, @m)"))
        {
            SqlLedger.Add(command, "@id", id);
            SqlLedger.Add(command, "@o", owner);
            SqlLedger.Add(command, "@c", now.ToUnixTimeSeconds());
            SqlLedger.Add(command, "@e", (now + TimeSpan.FromDays(_config.Current.Responses.RetentionDays)).ToUnixTimeSeconds());
            SqlLedger.Add(command, "@r", responseJson);
            SqlLedger.Add(command, "@m", thread.ToByteArray());
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        var nextPurge = Interlocked.Read(ref _nextPurge);
        if (now.ToUnixTimeSeconds() >= nextPurge && Interlocked.CompareExchange(ref _nextPurge, (now + PurgeInterval).ToUnixTimeSeconds(), nextPurge) == nextPurge)
        {
            await PurgeAsync(cancellationToken);
        }
    }

    public async Task<StoredResponse?> FindAsync(string owner, string id, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var command = _source.CreateCommand("SELECT response, conversation FROM gateway_responses WHERE id = @id AND owner = @o AND expires_at > @now");
        SqlLedger.Add(command, "@id", id);
        SqlLedger.Add(command, "@o", owner);
        SqlLedger.Add(command, "@now", _time.GetUtcNow().ToUnixTimeSeconds());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }
        var thread = ChatRequest.Parser.ParseFrom((byte[])reader.GetValue(1));
        return new StoredResponse(id, reader.GetString(0), thread.Messages);
    }

    public async Task<bool> DeleteAsync(string owner, string id, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var command = _source.CreateCommand("DELETE FROM gateway_responses WHERE id = @id AND owner = @o AND expires_at > @now");
        SqlLedger.Add(command, "@id", id);
        SqlLedger.Add(command, "@o", owner);
        SqlLedger.Add(command, "@now", _time.GetUtcNow().ToUnixTimeSeconds());
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    // Deletes every expired row; returns how many.
    public async Task<int> PurgeAsync(CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var command = _source.CreateCommand("DELETE FROM gateway_responses WHERE expires_at <= @now");
        SqlLedger.Add(command, "@now", _time.GetUtcNow().ToUnixTimeSeconds());
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _ready))
        {
            return;
        }
        await _schema.WaitAsync(cancellationToken);
        try
        {
            if (_ready)
            {
                return;
            }
            if (_isSqlite)
            {
                await using var wal = _source.CreateCommand("PRAGMA journal_mode=WAL;");
                await wal.ExecuteNonQueryAsync(cancellationToken);
            }
            // BYTEA is PostgreSQL's binary type; SQLite gives any such column BLOB affinity.
            await using var command = _source.CreateCommand("""
                CREATE TABLE IF NOT EXISTS gateway_responses (
                  id TEXT PRIMARY KEY, owner TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
                  response TEXT NOT NULL, conversation BYTEA NOT NULL);
                CREATE INDEX IF NOT EXISTS gateway_responses_expiry ON gateway_responses (expires_at);
                """);
            await command.ExecuteNonQueryAsync(cancellationToken);
            Volatile.Write(ref _ready, true);
        }
        finally
        {
            _schema.Release();
        }
    }

    public ValueTask DisposeAsync() => _source.DisposeAsync();
}
