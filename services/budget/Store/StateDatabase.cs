using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Gateway.Budget.Store;

// storage.state: a SQLite file embedded, PostgreSQL in the mesh. Each user (the budget ledger, the stored
// Responses API responses) keeps its own tables, created on first use, in the SQL both databases speak.
public sealed class StateDatabase : IAsyncDisposable
{
    private readonly string _schema;
    private readonly SemaphoreSlim _creating = new(1, 1);
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
        var uri = new Uri(stateUri.Replace("sqlite://./", "sqlite:///./", StringComparison.Ordinal), UriKind.Absolute);
        if (uri.Scheme == "sqlite")
        {
            var path = stateUri["sqlite://".Length..];
            var directory = Path.GetDirectoryName(Path.GetFullPath(path));
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }
            var builder = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, DefaultTimeout = 30 };
            return new StateDatabase(SqliteFactory.Instance.CreateDataSource(builder.ConnectionString), isSqlite: true, schema);
        }
        return new StateDatabase(NpgsqlDataSource.Create(PostgresConnectionString(uri)), isSqlite: false, schema);
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
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }
        return command;
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

    public ValueTask DisposeAsync() => Source.DisposeAsync();
}
