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
    // SQLite has one writer at a time; a second one would spin in SQLITE_BUSY retries (sleeping a thread).
    private readonly SemaphoreSlim _sqliteWriter = new(1, 1);
    private readonly Dictionary<string, DbCommand> _prepared = new(StringComparer.Ordinal);
    private DbConnection? _sqliteConnection;
    private bool _ready;

    private StateDatabase(DbDataSource source, bool isSqlite, string schema)
    {
        Source = source;
        IsSqlite = isSqlite;
        _schema = schema;
    }

    public DbDataSource Source { get; }

    public bool IsSqlite { get; }

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

    // Runs an INSERT/UPDATE/DELETE and returns the rows it changed. On SQLite every write goes through one
    // open connection with one prepared statement per SQL text, one writer at a time, in WAL mode with
    // synchronous=NORMAL: a commit survives the process being killed (the WAL is in the OS's hands) without
    // an fsync per request, which held a thread for milliseconds and capped a loaded gateway at a few hundred
    // requests per second. Only an OS crash or power loss can take the last commits. PostgreSQL keeps its own
    // durability settings.
    public async Task<int> WriteAsync(string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        if (!IsSqlite)
        {
            await using var command = await CommandAsync(sql, cancellationToken, parameters);
            return await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await EnsureSchemaAsync(cancellationToken);
        await _sqliteWriter.WaitAsync(cancellationToken);
        try
        {
            if (_sqliteConnection is null)
            {
                _sqliteConnection = await Source.OpenConnectionAsync(cancellationToken);
                await using var pragma = _sqliteConnection.CreateCommand();
                pragma.CommandText = "PRAGMA synchronous=NORMAL;";
                await pragma.ExecuteNonQueryAsync(cancellationToken);
            }
            if (!_prepared.TryGetValue(sql, out var command))
            {
                command = _sqliteConnection.CreateCommand();
                command.CommandText = sql;
                AddParameters(command, parameters);
                _prepared[sql] = command;
            }
            for (var i = 0; i < parameters.Length; i++)
            {
                command.Parameters[i].Value = parameters[i].Value;
            }
            return await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (DbException)
        {
            await CloseWriterAsync(); // reopened by the next write
            throw;
        }
        finally
        {
            _sqliteWriter.Release();
        }
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
        await CloseWriterAsync();
        await Source.DisposeAsync();
    }
}
