using Gateway.Budget.Store;
using Gateway.Testing.Servers;
using static Gateway.Budget.Tests.LedgerHarness;

namespace Gateway.Budget.Tests;

// The ledger (committed spend and alerts fired) survives a restart: a new process = a new ledger and a
// fresh in-memory counter store over the same database.
public sealed class DurabilityTests
{
    [Fact]
    public async Task Restart_Sqlite_KeepsCommittedSpendAndAlerts()
    {
        var directory = Path.Combine(Path.GetTempPath(), "gateway-budget-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        await AssertSurvivesRestartAsync($"sqlite://{directory}/state.db");
    }

    [Fact]
    public async Task Restart_Postgres_KeepsCommittedSpendAndAlerts()
    {
        await using var postgres = await PostgresServer.StartAsync();
        await AssertSurvivesRestartAsync(postgres.Uri);
    }

    [Fact]
    public async Task ConcurrentSettlements_OnSqlite_EachBookedOnceIntoEveryBudget()
    {
        // Settlements arriving together share the state database's transactions (group commit); each is several
        // statements, and a repeat of any of them must still add nothing.
        var directory = Path.Combine(Path.GetTempPath(), "gateway-budget-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        await using var sql = SqlLedger.Open($"sqlite://{directory}/state.db");
        (string, long)[] budgets = [("team", 100), ("project", 100), ("key", 100)];
        await Task.WhenAll(Enumerable.Range(0, 300).Select(i => Task.Run(() => sql.BookSettlementAsync($"r{i % 200}", budgets, 1_000, 1_700_000_000, CancellationToken.None))));

        foreach (var (budget, start) in budgets)
        {
            Assert.Equal(200 * 1_000, await sql.CommittedAsync(budget, start, CancellationToken.None));
        }
    }

    private static async Task AssertSurvivesRestartAsync(string state)
    {
        var config = Config1(NewBudget(limit: 1m) with { Alerts = [0.5] });
        await using (var sql = SqlLedger.Open(state))
        {
            await using var before = new LedgerHarness(config, sql: sql);
            var reservation = await before.ReserveAsync(0.7);
            await before.SettleAsync(reservation, 0.7);
            Assert.Single(before.Alerts.Alerts);
            // The same settlement booked again (a retry whose first attempt landed) adds nothing.
            var periodStart = (await before.StatusAsync("ds-monthly")).PeriodStartUnix;
            await sql.BookSettlementAsync(reservation.ReservationId, [("ds-monthly", periodStart)], 700_000_000, before.Time.GetUtcNow().ToUnixTimeSeconds(), CancellationToken.None);
            Assert.Equal(700_000_000, await sql.CommittedAsync("ds-monthly", periodStart, CancellationToken.None));
        }

        await using var sqlAfter = SqlLedger.Open(state);
        await using var after = new LedgerHarness(config, new InMemoryCounterStore(), sqlAfter);
        var status = await after.StatusAsync("ds-monthly");
        Assert.Equal(0.7, status.CommittedUsd, 9);
        Assert.Equal([0.5], status.AlertsFired);
        Assert.False((await after.ReserveAsync(0.5)).Admitted);
        await after.SettleAsync(await after.ReserveAsync(0.1), 0.1);
        Assert.Empty(after.Alerts.Alerts);
    }
}
