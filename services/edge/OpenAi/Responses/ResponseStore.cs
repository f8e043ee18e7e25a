using Gateway.Common.Storage;
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
public sealed class ResponseStore(ConfigMonitor config, TimeProvider time) : IAsyncDisposable
{
    private static readonly TimeSpan PurgeInterval = TimeSpan.FromMinutes(5);

    // BYTEA is PostgreSQL's binary type; SQLite gives any such column BLOB affinity.
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS gateway_responses (
          id TEXT PRIMARY KEY, owner TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
          response TEXT NOT NULL, conversation BYTEA NOT NULL);
        CREATE INDEX IF NOT EXISTS gateway_responses_expiry ON gateway_responses (expires_at);
        """;

    private readonly StateDatabase _db = StateDatabase.Open(config.Current.Storage.State, Schema);
    private long _nextPurge;

    public async Task SaveAsync(string owner, string id, string responseJson, IEnumerable<Message> conversation, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var thread = new ChatRequest();
        thread.Messages.AddRange(conversation);
        await _db.WriteAsync("INSERT INTO gateway_responses (id, owner, created_at, expires_at, response, conversation) VALUES (@id, @o, @c, @e, @r, @m)",
            cancellationToken, ("@id", id), ("@o", owner), ("@c", now.ToUnixTimeSeconds()),
            ("@e", (now + TimeSpan.FromDays(config.Current.Responses.RetentionDays)).ToUnixTimeSeconds()),
            ("@r", responseJson), ("@m", thread.ToByteArray()));
        var nextPurge = Interlocked.Read(ref _nextPurge);
        if (now.ToUnixTimeSeconds() >= nextPurge && Interlocked.CompareExchange(ref _nextPurge, (now + PurgeInterval).ToUnixTimeSeconds(), nextPurge) == nextPurge)
        {
            await PurgeAsync(cancellationToken);
        }
    }

    public async Task<StoredResponse?> FindAsync(string owner, string id, CancellationToken cancellationToken)
    {
        await using var command = await _db.CommandAsync("SELECT response, conversation FROM gateway_responses WHERE id = @id AND owner = @o AND expires_at > @now", cancellationToken,
            ("@id", id), ("@o", owner), ("@now", time.GetUtcNow().ToUnixTimeSeconds()));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }
        var thread = ChatRequest.Parser.ParseFrom((byte[])reader.GetValue(1));
        return new StoredResponse(id, reader.GetString(0), thread.Messages);
    }

    public async Task<bool> DeleteAsync(string owner, string id, CancellationToken cancellationToken)
        => await _db.WriteAsync("DELETE FROM gateway_responses WHERE id = @id AND owner = @o AND expires_at > @now", cancellationToken,
            ("@id", id), ("@o", owner), ("@now", time.GetUtcNow().ToUnixTimeSeconds())) > 0;

    // Deletes every expired row; returns how many.
    public Task<int> PurgeAsync(CancellationToken cancellationToken)
        => _db.WriteAsync("DELETE FROM gateway_responses WHERE expires_at <= @now", cancellationToken,
            ("@now", time.GetUtcNow().ToUnixTimeSeconds()));

    public ValueTask DisposeAsync() => _db.DisposeAsync();
}
