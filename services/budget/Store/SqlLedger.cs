using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Gateway.Budget.Store;

// The durable ledger: committed spend per budget and period, and the alerts fired. SQLite embedded,
// PostgreSQL in the mesh; the SQL is the subset both speak (ON CONFLICT upserts, BIGINT nano-USD).
public sealed class SqlLedger : IAsyncDisposable
{
    private readonly DbDataSource _source;
    private readonly SemaphoreSlim _schema = new(1, 1);
    // SQLite has one writer at a time; a second one would spin in SQLITE_BUSY retries (sleeping a thread).
    private readonly SemaphoreSlim _sqliteWriter = new(1, 1);
    private readonly Dictionary<string, DbCommand> _prepared = new(StringComparer.Ordinal);
    private DbConnection? _sqliteConnection;
    private bool _ready;

    private SqlLedger(DbDataSource source, bool isSqlite)
    {
        _source = source;
        IsSqlite = isSqlite;
    }

    public bool IsSqlite { get; }

    public static SqlLedger Open(string stateUri)
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
            return new SqlLedger(SqliteFactory.Instance.CreateDataSource(builder.ConnectionString), isSqlite: true);
        }
        return new SqlLedger(NpgsqlDataSource.Create(PostgresConnectionString(uri)), isSqlite: false);
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

    public async Task<long> CommittedAsync(string budget, long periodStart, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var command = _source.CreateCommand("SELECT committed_nanos FROM budget_ledger WHERE budget = @b AND period_start = @p");
        Add(command, "@b", budget);
        Add(command, "@p", periodStart);
        return await command.ExecuteScalarAsync(cancellationToken) is { } value and not DBNull ? Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    public Task AddCommittedAsync(string budget, long periodStart, long nanos, CancellationToken cancellationToken)
        => WriteAsync("""
            INSERT INTO budget_ledger (budget, period_start, committed_nanos) VALUES (@b, @p, @n)
            ON CONFLICT (budget, period_start) DO UPDATE SET committed_nanos = budget_ledger.committed_nanos + excluded.committed_nanos
            """, cancellationToken, ("@b", budget), ("@p", periodStart), ("@n", nanos));

    // True when this call recorded the alert (it had not fired in this period before).
    public async Task<bool> TryMarkAlertAsync(string budget, long periodStart, int permille, long firedAt, CancellationToken cancellationToken)
        => await WriteAsync("""
            INSERT INTO budget_alerts (budget, period_start, threshold_permille, fired_at) VALUES (@b, @p, @t, @f)
            ON CONFLICT (budget, period_start, threshold_permille) DO NOTHING
            """, cancellationToken, ("@b", budget), ("@p", periodStart), ("@t", permille), ("@f", firedAt)) == 1;

    // SQLite in WAL mode with synchronous=NORMAL: a commit survives the process being killed (the WAL is in
    // the OS's hands) without an fsync per settled request, which held a thread for milliseconds each and
    // capped a loaded gateway at a few hundred requests per second. Only an OS crash or power loss can take
    // the last commits; PostgreSQL keeps its own durability settings.
    private async Task<int> WriteAsync(string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await EnsureSchemaAsync(cancellationToken);
        if (!IsSqlite)
        {
            await using var command = _source.CreateCommand(sql);
            AddAll(command, parameters);
            return await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await _sqliteWriter.WaitAsync(cancellationToken);
        try
        {
            if (_sqliteConnection is null)
            {
                _sqliteConnection = await _source.OpenConnectionAsync(cancellationToken);
                await using var pragma = _sqliteConnection.CreateCommand();
                pragma.CommandText = "PRAGMA synchronous=NORMAL;";
                await pragma.ExecuteNonQueryAsync(cancellationToken);
            }
            // One open connection and one prepared statement per SQL text: a settle is one step of SQLite.
            if (!_prepared.TryGetValue(sql, out var command))
            {
                command = _sqliteConnection.CreateCommand();
                command.CommandText = sql;
                AddAll(command, parameters);
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
            await CloseSqliteWriterAsync(); // reopened by the next write
            throw;
        }
        finally
        {
            _sqliteWriter.Release();
        }
    }

    private async ValueTask CloseSqliteWriterAsync()
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

    private static void AddAll(DbCommand command, (string Name, object Value)[] parameters)
    {
        foreach (var (name, value) in parameters)
        {
            Add(command, name, value);
        }
    }

    public async Task<List<int>> AlertsFiredAsync(string budget, long periodStart, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var command = _source.CreateCommand("SELECT threshold_permille FROM budget_alerts WHERE budget = @b AND period_start = @p ORDER BY threshold_permille");
        Add(command, "@b", budget);
        Add(command, "@p", periodStart);
        var fired = new List<int>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            fired.Add(Convert.ToInt32(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture));
        }
        return fired;
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
            if (IsSqlite)
            {
                await using var wal = _source.CreateCommand("PRAGMA journal_mode=WAL;");
                await wal.ExecuteNonQueryAsync(cancellationToken);
            }
            await using var command = _source.CreateCommand("""
                CREATE TABLE IF NOT EXISTS budget_ledger (
                  budget TEXT NOT NULL, period_start BIGINT NOT NULL, committed_nanos BIGINT NOT NULL,
                  PRIMARY KEY (budget, period_start));
                CREATE TABLE IF NOT EXISTS budget_alerts (
                  budget TEXT NOT NULL, period_start BIGINT NOT NULL, threshold_permille INTEGER NOT NULL, fired_at BIGINT NOT NULL,
                  PRIMARY KEY (budget, period_start, threshold_permille));
                """);
            await command.ExecuteNonQueryAsync(cancellationToken);
            Volatile.Write(ref _ready, true);
        }
        finally
        {
            _schema.Release();
        }
    }

    private static void Add(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    public async ValueTask DisposeAsync()
    {
        await CloseSqliteWriterAsync();
        await _source.DisposeAsync();
    }
}
