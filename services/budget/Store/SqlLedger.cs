using Gateway.Common.Storage;

namespace Gateway.Budget.Store;

// The durable ledger: committed spend per budget and period, the settlements booked into it (by reservation id,
// so a settlement retried is booked once), and the alerts fired. SQLite embedded, PostgreSQL in the mesh; the SQL
// is the subset both speak (ON CONFLICT upserts, BIGINT nano-USD).
public sealed class SqlLedger : IAsyncDisposable
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS budget_ledger (
          budget TEXT NOT NULL, period_start BIGINT NOT NULL, committed_nanos BIGINT NOT NULL,
          PRIMARY KEY (budget, period_start));
        CREATE TABLE IF NOT EXISTS budget_settlements (
          reservation_id TEXT NOT NULL, budget TEXT NOT NULL, period_start BIGINT NOT NULL, nanos BIGINT NOT NULL,
          booked INTEGER NOT NULL, settled_at BIGINT NOT NULL,
          PRIMARY KEY (reservation_id, budget, period_start));
        CREATE INDEX IF NOT EXISTS budget_settlements_settled_at ON budget_settlements (settled_at);
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

    // How long a booked settlement is remembered: far longer than a reservation record (lease + 1 day) that a
    // retry could still settle against.
    public static readonly TimeSpan SettlementMemory = TimeSpan.FromDays(7);

    private long _nextPruneAt;

    // Books one settlement of `reservationId` into the budget's period: the ledger grows by `nanos` the first time
    // and never again for the same reservation, budget and period (a retried settle or a redelivered request).
    // One transaction, so a crash leaves either both the settlement and its spend, or neither.
    public async Task BookSettlementAsync(string reservationId, string budget, long periodStart, long nanos, long settledAtUnix, CancellationToken cancellationToken)
    {
        await _db.WriteAsync("""
            BEGIN;
            INSERT INTO budget_settlements (reservation_id, budget, period_start, nanos, booked, settled_at) VALUES (@r, @b, @p, @n, 0, @t)
            ON CONFLICT (reservation_id, budget, period_start) DO NOTHING;
            INSERT INTO budget_ledger (budget, period_start, committed_nanos)
            SELECT budget, period_start, nanos FROM budget_settlements WHERE reservation_id = @r AND budget = @b AND period_start = @p AND booked = 0
            ON CONFLICT (budget, period_start) DO UPDATE SET committed_nanos = budget_ledger.committed_nanos + excluded.committed_nanos;
            UPDATE budget_settlements SET booked = 1 WHERE reservation_id = @r AND budget = @b AND period_start = @p;
            COMMIT;
            """, cancellationToken, ("@r", reservationId), ("@b", budget), ("@p", periodStart), ("@n", nanos), ("@t", settledAtUnix));
        if (settledAtUnix >= Interlocked.Read(ref _nextPruneAt))
        {
            Interlocked.Exchange(ref _nextPruneAt, settledAtUnix + 3600);
            await _db.WriteAsync("DELETE FROM budget_settlements WHERE settled_at < @cutoff", cancellationToken,
                ("@cutoff", settledAtUnix - (long)SettlementMemory.TotalSeconds));
        }
    }

    // A manual adjustment (admin API): added as it comes, each one its own booking.
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
