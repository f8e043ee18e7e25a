using Gateway.Common.Storage;

namespace Gateway.Budget.Store;

// The durable ledger: committed spend per budget and period, and the alerts fired. SQLite embedded,
// PostgreSQL in the mesh; the SQL is the subset both speak (ON CONFLICT upserts, BIGINT nano-USD).
public sealed class SqlLedger : IAsyncDisposable
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS budget_ledger (
          budget TEXT NOT NULL, period_start BIGINT NOT NULL, committed_nanos BIGINT NOT NULL,
          PRIMARY KEY (budget, period_start));
        CREATE TABLE IF NOT EXISTS budget_alerts (
          budget TEXT NOT NULL, period_start BIGINT NOT NULL, threshold_permille INTEGER NOT NULL, fired_at BIGINT NOT NULL,
          PRIMARY KEY (budget, period_start, threshold_permille));
        """;

    private readonly StateDatabase _db;

    private SqlLedger(StateDatabase db) => _db = db;

    public bool IsSqlite => _db.IsSqlite;

    public static SqlLedger Open(string stateUri) => new(StateDatabase.Open(stateUri, Schema));

    public async Task<long> CommittedAsync(string budget, long periodStart, CancellationToken cancellationToken)
    {
        await using var command = await _db.CommandAsync("SELECT committed_nanos FROM budget_ledger WHERE budget = @b AND period_start = @p", cancellationToken,
            ("@b", budget), ("@p", periodStart));
        return await command.ExecuteScalarAsync(cancellationToken) is { } value and not DBNull ? Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    public Task AddCommittedAsync(string budget, long periodStart, long nanos, CancellationToken cancellationToken)
        => _db.WriteAsync("""
            INSERT INTO budget_ledger (budget, period_start, committed_nanos) VALUES (@b, @p, @n)
            ON CONFLICT (budget, period_start) DO UPDATE SET committed_nanos = budget_ledger.committed_nanos + excluded.committed_nanos
            """, cancellationToken, ("@b", budget), ("@p", periodStart), ("@n", nanos));

    // True when this call recorded the alert (it had not fired in this period before).
    public async Task<bool> TryMarkAlertAsync(string budget, long periodStart, int permille, long firedAt, CancellationToken cancellationToken)
        => await _db.WriteAsync("""
            INSERT INTO budget_alerts (budget, period_start, threshold_permille, fired_at) VALUES (@b, @p, @t, @f)
            ON CONFLICT (budget, period_start, threshold_permille) DO NOTHING
            """, cancellationToken, ("@b", budget), ("@p", periodStart), ("@t", permille), ("@f", firedAt)) == 1;

    public async Task<List<int>> AlertsFiredAsync(string budget, long periodStart, CancellationToken cancellationToken)
    {
        await using var command = await _db.CommandAsync("SELECT threshold_permille FROM budget_alerts WHERE budget = @b AND period_start = @p ORDER BY threshold_permille", cancellationToken,
            ("@b", budget), ("@p", periodStart));
        var fired = new List<int>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            fired.Add(Convert.ToInt32(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture));
        }
        return fired;
    }

    public ValueTask DisposeAsync() => _db.DisposeAsync();
}
