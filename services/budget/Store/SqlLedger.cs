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
    private bool _ready;

    private SqlLedger(DbDataSource source, bool isSqlite)
    {
        _source = source;
        IsSqlite = isSqlite;
    }

    public bool IsSqlite { get; }

    public static SqlLedger Open(string stateUri) => new(OpenDataSource(stateUri, out var isSqlite), isSqlite);

    // storage.state as a data source: a SQLite file (directory created) or PostgreSQL. Other state tables
    // (stored responses) open it the same way and keep to the SQL both speak.
    public static DbDataSource OpenDataSource(string stateUri, out bool isSqlite)
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

    public async Task<long> CommittedAsync(string budget, long periodStart, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var command = _source.CreateCommand("SELECT committed_nanos FROM budget_ledger WHERE budget = @b AND period_start = @p");
        Add(command, "@b", budget);
        Add(command, "@p", periodStart);
        return await command.ExecuteScalarAsync(cancellationToken) is { } value and not DBNull ? Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    public async Task AddCommittedAsync(string budget, long periodStart, long nanos, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var command = _source.CreateCommand("""
            INSERT INTO budget_ledger (budget, period_start, committed_nanos) VALUES (@b, @p, @n)
            ON CONFLICT (budget, period_start) DO UPDATE SET committed_nanos = budget_ledger.committed_nanos + excluded.committed_nanos
            """);
        Add(command, "@b", budget);
        Add(command, "@p", periodStart);
        Add(command, "@n", nanos);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    // True when this call recorded the alert (it had not fired in this period before).
    public async Task<bool> TryMarkAlertAsync(string budget, long periodStart, int permille, long firedAt, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var command = _source.CreateCommand("""
            INSERT INTO budget_alerts (budget, period_start, threshold_permille, fired_at) VALUES (@b, @p, @t, @f)
            ON CONFLICT (budget, period_start, threshold_permille) DO NOTHING
            """);
        Add(command, "@b", budget);
        Add(command, "@p", periodStart);
        Add(command, "@t", permille);
        Add(command, "@f", firedAt);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
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

    public static void Add(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    public ValueTask DisposeAsync() => _source.DisposeAsync();
}
