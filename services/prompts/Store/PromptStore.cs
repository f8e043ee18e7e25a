using System.Data.Common;
using System.Globalization;
using Gateway.Common.Storage;
using Gateway.Contracts.Prompts.V1;
using Google.Protobuf;

namespace Gateway.Prompts.Store;

// Prompt versions, labels, label history and experiments in the state database (SQLite embedded, PostgreSQL
// in the mesh). Versions are append-only; every change bumps one counter row, which replicas read to notice
// changes made elsewhere (a single-row primary-key read: cheap enough to do several times a second).
public sealed class PromptStore : IAsyncDisposable
{
    private static readonly JsonFormatter ExperimentJson = new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true));

    private readonly DbDataSource _source;
    private readonly bool _isSqlite;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _schema = new(1, 1);
    // SQLite allows one writer at a time; serialising our own writes avoids busy retries between them.
    private readonly SemaphoreSlim _write = new(1, 1);
    private bool _ready;

    private PromptStore(DbDataSource source, bool isSqlite, TimeProvider time)
    {
        _source = source;
        _isSqlite = isSqlite;
        _time = time;
    }

    public static PromptStore Open(string stateUri, TimeProvider time)
    {
        var source = StateDatabase.Open(stateUri, out var isSqlite);
        return new PromptStore(source, isSqlite, time);
    }

    public sealed record StoredVersion(string Name, int Version, string ContentHash, string Definition, string Message, string Author, long CreatedMs);

    public sealed record PromptState(int Latest, IReadOnlyDictionary<string, int> Labels, IReadOnlyList<Experiment> Experiments);

    // Adds a version unless one with the same content hash exists; returns the stored version and whether
    // it is new. A concurrent writer taking the same number makes this retry with the next one.
    public async Task<(StoredVersion Version, bool Created)> AddVersionAsync(string name, string contentHash, string definition, string message, string author, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        for (var attempt = 0; ; attempt++)
        {
            await _write.WaitAsync(cancellationToken);
            try
            {
                await using var connection = await _source.OpenConnectionAsync(cancellationToken);
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                if (await FindByHashAsync(connection, transaction, name, contentHash, cancellationToken) is { } existing)
                {
                    return (existing, false);
                }
                await using var max = Command(connection, transaction, "SELECT COALESCE(MAX(version), 0) FROM prompt_versions WHERE name = @n", ("@n", name));
                var next = Convert.ToInt32(await max.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) + 1;
                var stored = new StoredVersion(name, next, contentHash, definition, message, author, _time.GetUtcNow().ToUnixTimeMilliseconds());
                await using var insert = Command(connection, transaction,
                    "INSERT INTO prompt_versions (name, version, content_hash, definition, message, author, created_ms) VALUES (@n, @v, @h, @d, @m, @a, @t)",
                    ("@n", name), ("@v", next), ("@h", contentHash), ("@d", definition), ("@m", message), ("@a", author), ("@t", stored.CreatedMs));
                await insert.ExecuteNonQueryAsync(cancellationToken);
                await BumpAsync(connection, transaction, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                return (stored, true);
            }
            catch (DbException) when (attempt < 5)
            {
                // Another writer took this version number (or the same content) first: read again.
            }
            finally
            {
                _write.Release();
            }
        }
    }

    public async Task<IReadOnlyList<StoredVersion>> VersionsAsync(string name, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await _source.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT name, version, content_hash, definition, message, author, created_ms FROM prompt_versions WHERE name = @n ORDER BY version", ("@n", name));
        return await ReadVersionsAsync(command, cancellationToken);
    }

    public async Task<StoredVersion?> VersionAsync(string name, int version, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await _source.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT name, version, content_hash, definition, message, author, created_ms FROM prompt_versions WHERE name = @n AND version = @v", ("@n", name), ("@v", version));
        return (await ReadVersionsAsync(command, cancellationToken)) is [var found] ? found : null;
    }

    public async Task<IReadOnlyList<string>> NamesAsync(CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await _source.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT DISTINCT name FROM prompt_versions ORDER BY name");
        var names = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            names.Add(reader.GetString(0));
        }
        return names;
    }

    // What resolution needs about a prompt: its latest version, its labels and its running experiments.
    public async Task<PromptState?> StateAsync(string name, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await _source.OpenConnectionAsync(cancellationToken);
        await using var max = Command(connection, null, "SELECT COALESCE(MAX(version), 0) FROM prompt_versions WHERE name = @n", ("@n", name));
        var latest = Convert.ToInt32(await max.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
        if (latest == 0)
        {
            return null;
        }
        var labels = await LabelsAsync(connection, name, cancellationToken);
        var experiments = await ExperimentsAsync(connection, name, runningOnly: true, cancellationToken);
        return new PromptState(latest, labels, experiments);
    }

    public async Task<IReadOnlyDictionary<string, int>> LabelsAsync(string name, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await _source.OpenConnectionAsync(cancellationToken);
        return await LabelsAsync(connection, name, cancellationToken);
    }

    private static async Task<Dictionary<string, int>> LabelsAsync(DbConnection connection, string name, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, null, "SELECT label, version FROM prompt_labels WHERE name = @n", ("@n", name));
        var labels = new Dictionary<string, int>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            labels[reader.GetString(0)] = Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture);
        }
        return labels;
    }

    // Points the label at the version and records the move in the label's history, in one transaction.
    public async Task<LabelChange> SetLabelAsync(string name, string label, int version, string actor, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        for (var attempt = 0; ; attempt++)
        {
            await _write.WaitAsync(cancellationToken);
            try
            {
                await using var connection = await _source.OpenConnectionAsync(cancellationToken);
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await using var current = Command(connection, transaction, "SELECT version FROM prompt_labels WHERE name = @n AND label = @l", ("@n", name), ("@l", label));
                var from = await current.ExecuteScalarAsync(cancellationToken) is { } value and not DBNull ? Convert.ToInt32(value, CultureInfo.InvariantCulture) : 0;
                var change = new LabelChange { Name = name, Label = label, FromVersion = from, ToVersion = version, Actor = actor, AtUnixMs = _time.GetUtcNow().ToUnixTimeMilliseconds() };
                await using var upsert = Command(connection, transaction, """
                    INSERT INTO prompt_labels (name, label, version) VALUES (@n, @l, @v)
                    ON CONFLICT (name, label) DO UPDATE SET version = excluded.version
                    """, ("@n", name), ("@l", label), ("@v", version));
                await upsert.ExecuteNonQueryAsync(cancellationToken);
                await using var history = Command(connection, transaction, """
                    INSERT INTO prompt_label_history (name, label, seq, from_version, to_version, actor, at_ms)
                    SELECT @n, @l, COALESCE(MAX(seq), 0) + 1, @f, @v, @a, @t FROM prompt_label_history WHERE name = @n AND label = @l
                    """, ("@n", name), ("@l", label), ("@f", from), ("@v", version), ("@a", actor), ("@t", change.AtUnixMs));
                await history.ExecuteNonQueryAsync(cancellationToken);
                await BumpAsync(connection, transaction, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                return change;
            }
            catch (DbException) when (attempt < 5)
            {
                // A concurrent move took the same history sequence number: read again and retry.
            }
            finally
            {
                _write.Release();
            }
        }
    }

    public async Task<IReadOnlyList<LabelChange>> LabelHistoryAsync(string name, string? label, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await _source.OpenConnectionAsync(cancellationToken);
        await using var command = label is { Length: > 0 }
            ? Command(connection, null, "SELECT label, from_version, to_version, actor, at_ms FROM prompt_label_history WHERE name = @n AND label = @l ORDER BY at_ms, seq", ("@n", name), ("@l", label))
            : Command(connection, null, "SELECT label, from_version, to_version, actor, at_ms FROM prompt_label_history WHERE name = @n ORDER BY at_ms, label, seq", ("@n", name));
        var changes = new List<LabelChange>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            changes.Add(new LabelChange
            {
                Name = name,
                Label = reader.GetString(0),
                FromVersion = Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture),
                ToVersion = Convert.ToInt32(reader.GetValue(2), CultureInfo.InvariantCulture),
                Actor = reader.GetString(3),
                AtUnixMs = Convert.ToInt64(reader.GetValue(4), CultureInfo.InvariantCulture),
            });
        }
        return changes;
    }

    // Inserts or replaces an experiment (start, stop). Returns false when inserting a new id that exists.
    public async Task<bool> SaveExperimentAsync(Experiment experiment, bool create, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await _write.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await _source.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using var write = Command(connection, transaction, create
                ? "INSERT INTO prompt_experiments (id, prompt, status, body) VALUES (@i, @p, @s, @b) ON CONFLICT (id) DO NOTHING"
                : "UPDATE prompt_experiments SET status = @s, body = @b WHERE id = @i",
                ("@i", experiment.Id), ("@p", experiment.Prompt), ("@s", experiment.Status), ("@b", ExperimentJson.Format(experiment)));
            if (await write.ExecuteNonQueryAsync(cancellationToken) != 1)
            {
                return false;
            }
            await BumpAsync(connection, transaction, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return true;
        }
        finally
        {
            _write.Release();
        }
    }

    public async Task<IReadOnlyList<Experiment>> ExperimentsAsync(string? prompt, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await _source.OpenConnectionAsync(cancellationToken);
        return await ExperimentsAsync(connection, prompt, runningOnly: false, cancellationToken);
    }

    private static async Task<List<Experiment>> ExperimentsAsync(DbConnection connection, string? prompt, bool runningOnly, CancellationToken cancellationToken)
    {
        var sql = "SELECT body FROM prompt_experiments WHERE 1 = 1" + (prompt is { Length: > 0 } ? " AND prompt = @p" : "") + (runningOnly ? " AND status = 'running'" : "") + " ORDER BY id";
        await using var command = prompt is { Length: > 0 } ? Command(connection, null, sql, ("@p", prompt)) : Command(connection, null, sql);
        var experiments = new List<Experiment>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            experiments.Add(Experiment.Parser.ParseJson(reader.GetString(0)));
        }
        return experiments;
    }

    // The change counter: differs from the last value read whenever anything was written since.
    public async Task<long> ChangeCounterAsync(CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var command = _source.CreateCommand("SELECT counter FROM prompt_changes WHERE id = 1");
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }

    private static async Task BumpAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        await using var bump = Command(connection, transaction, "UPDATE prompt_changes SET counter = counter + 1 WHERE id = 1");
        await bump.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<StoredVersion?> FindByHashAsync(DbConnection connection, DbTransaction transaction, string name, string hash, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, "SELECT name, version, content_hash, definition, message, author, created_ms FROM prompt_versions WHERE name = @n AND content_hash = @h", ("@n", name), ("@h", hash));
        return (await ReadVersionsAsync(command, cancellationToken)) is [var found] ? found : null;
    }

    private static async Task<List<StoredVersion>> ReadVersionsAsync(DbCommand command, CancellationToken cancellationToken)
    {
        var versions = new List<StoredVersion>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            versions.Add(new StoredVersion(reader.GetString(0), Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture), reader.GetString(2),
                reader.GetString(3), reader.GetString(4), reader.GetString(5), Convert.ToInt64(reader.GetValue(6), CultureInfo.InvariantCulture)));
        }
        return versions;
    }

    private static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        foreach (var (name, value) in parameters)
        {
            StateDatabase.Add(command, name, value);
        }
        return command;
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
            await using var command = _source.CreateCommand("""
                CREATE TABLE IF NOT EXISTS prompt_versions (
                  name TEXT NOT NULL, version INTEGER NOT NULL, content_hash TEXT NOT NULL, definition TEXT NOT NULL,
                  message TEXT NOT NULL, author TEXT NOT NULL, created_ms BIGINT NOT NULL,
                  PRIMARY KEY (name, version));
                CREATE UNIQUE INDEX IF NOT EXISTS prompt_versions_hash ON prompt_versions (name, content_hash);
                CREATE TABLE IF NOT EXISTS prompt_labels (
                  name TEXT NOT NULL, label TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (name, label));
                CREATE TABLE IF NOT EXISTS prompt_label_history (
                  name TEXT NOT NULL, label TEXT NOT NULL, seq BIGINT NOT NULL, from_version INTEGER NOT NULL,
                  to_version INTEGER NOT NULL, actor TEXT NOT NULL, at_ms BIGINT NOT NULL, PRIMARY KEY (name, label, seq));
                CREATE TABLE IF NOT EXISTS prompt_experiments (
                  id TEXT PRIMARY KEY, prompt TEXT NOT NULL, status TEXT NOT NULL, body TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS prompt_changes (id INTEGER PRIMARY KEY, counter BIGINT NOT NULL);
                INSERT INTO prompt_changes (id, counter) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
                """);
            try
            {
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
            catch (DbException) when (!_isSqlite)
            {
                // Two replicas creating the schema at once on PostgreSQL: one loses the race on the catalog; the
                // tables exist now either way.
                await using var again = _source.CreateCommand("SELECT 1 FROM prompt_changes WHERE id = 1");
                await again.ExecuteScalarAsync(cancellationToken);
            }
            Volatile.Write(ref _ready, true);
        }
        finally
        {
            _schema.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _source.DisposeAsync();
        _schema.Dispose();
        _write.Dispose();
    }
}
