using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Gateway.Common.Storage;

namespace Gateway.Budget.Store;

// The durable ledger: committed spend per budget and period, the reservations whose settlement is booked in it
// (so a settlement retried is booked once), and the alerts fired. SQLite embedded, PostgreSQL in the mesh; the SQL
// is the subset both speak (ON CONFLICT upserts, BIGINT nano-USD).
public sealed class SqlLedger : IAsyncDisposable
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS budget_ledger (
          budget TEXT NOT NULL, period_start BIGINT NOT NULL, committed_nanos BIGINT NOT NULL,
          PRIMARY KEY (budget, period_start));
        CREATE TABLE IF NOT EXISTS budget_settlements (reservation_id TEXT NOT NULL PRIMARY KEY, settled_at BIGINT NOT NULL);
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

    // How long a booked settlement is remembered: longer than Redis keeps a settlement's levels for a repeat
    // (RedisCounterStore, an hour at least), so a retry is always recognised. One row per settled request.
    public static readonly TimeSpan SettlementMemory = TimeSpan.FromDays(1);

    // Booking statements by number of budgets, built once per ledger.
    private readonly ConcurrentDictionary<int, string> _bookingSql = new();

    private long _nextPruneAt;

    // Books one settlement into each of its budgets' periods, the first time only: a repeat for the same
    // reservation id (a retried settle whose first attempt landed, a redelivered request) adds nothing. One
    // transaction, so a crash leaves either the spend and the reservation's mark, or neither.
    public async Task BookSettlementAsync(string reservationId, IReadOnlyList<(string Budget, long PeriodStart)> budgets, long nanos, long settledAtUnix, CancellationToken cancellationToken)
    {
        var parameters = new (string, object)[3 + budgets.Count * 2];
        parameters[0] = ("@r", reservationId);
        parameters[1] = ("@n", nanos);
        parameters[2] = ("@t", settledAtUnix);
        for (var i = 0; i < budgets.Count; i++)
        {
            parameters[3 + i * 2] = ($"@b{i}", budgets[i].Budget);
            parameters[4 + i * 2] = ($"@p{i}", budgets[i].PeriodStart);
        }
        await _db.WriteAsync(_bookingSql.GetOrAdd(budgets.Count, BookingStatements), cancellationToken, parameters);
        if (settledAtUnix >= Interlocked.Read(ref _nextPruneAt))
        {
            // Every minute, so each delete is small.
            Interlocked.Exchange(ref _nextPruneAt, settledAtUnix + 60);
            await _db.WriteAsync("DELETE FROM budget_settlements WHERE settled_at < @cutoff", cancellationToken,
                ("@cutoff", settledAtUnix - (long)SettlementMemory.TotalSeconds));
        }
    }

    // SQLite writes always run inside the state database's own transaction (see StateDatabase.WriteAsync), where
    // a BEGIN of our own would fail; on PostgreSQL the statements open and commit their own.
    private string BookingStatements(int budgets)
    {
        var sql = new StringBuilder(_db.IsSqlite ? "" : "BEGIN;\n");
        for (var i = 0; i < budgets; i++)
        {
            sql.Append(CultureInfo.InvariantCulture, $"""
                INSERT INTO budget_ledger (budget, period_start, committed_nanos)
                SELECT @b{i}, @p{i}, @n WHERE NOT EXISTS (SELECT 1 FROM budget_settlements WHERE reservation_id = @r)
                ON CONFLICT (budget, period_start) DO UPDATE SET committed_nanos = budget_ledger.committed_nanos + excluded.committed_nanos;

                """);
        }
        sql.Append("INSERT INTO budget_settlements (reservation_id, settled_at) VALUES (@r, @t) ON CONFLICT (reservation_id) DO NOTHING;");
        if (!_db.IsSqlite)
        {
            sql.Append("\nCOMMIT;");
        }
        return sql.ToString();
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
