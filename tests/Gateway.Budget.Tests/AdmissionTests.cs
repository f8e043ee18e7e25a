using CsCheck;
using Gateway.Budget.Store;
using Gateway.Common.Configuration;
using static Gateway.Budget.Tests.LedgerHarness;

namespace Gateway.Budget.Tests;

public sealed class AdmissionTests
{
    [Fact]
    public async Task Reserve_200ConcurrentAgainstBudgetForFifty_AdmitsExactlyFifty()
    {
        await using var harness = new LedgerHarness(Config1(NewBudget(limit: 5m)));
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = Enumerable.Range(0, 200).Select(async _ =>
        {
            await start.Task;
            return await harness.ReserveAsync(0.1);
        }).ToList();
        start.SetResult();
        var reservations = await Task.WhenAll(tasks);

        Assert.Equal(50, reservations.Count(r => r.Admitted));
        Assert.All(reservations.Where(r => !r.Admitted), r => Assert.Equal("budget_exceeded", r.Reason));
        await Task.WhenAll(reservations.Where(r => r.Admitted).Select(r => harness.SettleAsync(r, 0.1)));
        var status = await harness.StatusAsync("ds-monthly");
        Assert.Equal(5.0, status.CommittedUsd, 9);
        Assert.Equal(0, status.ReservedUsd);
        Assert.Equal("exhausted", status.State);
    }

    // Exactness over random costs and real thread interleavings: while nothing settles, levels only grow,
    // so every refused request must truly not have fit (cost > limit - final held), and the held total
    // never passes the limit. Settling with actual <= reserved then commits no more than the limit.
    [Fact]
    public void Reserve_RandomCostsAndInterleavings_NeverOvercommitsAndRefusesOnlyWhatCannotFit()
    {
        var gen = Gen.Select(Gen.Long[1, 5_000].Array[1, 200], Gen.Long[1, 200_000], Gen.Double[0, 1].Array[200]);
        gen.Sample((costs, limit, actualFractions) =>
        {
            var store = new InMemoryCounterStore();
            var admitted = new bool[costs.Length];
            Parallel.For(0, costs.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
            {
                admitted[i] = store.Reserve($"r{i}", [new CounterEntry("b:x:0", limit, costs[i], CounterKind.Budget)], 0, 1_000_000).Admitted;
            });
            var held = costs.Where((_, i) => admitted[i]).Sum();
            Assert.True(held <= limit, $"held {held} > limit {limit}");
            for (var i = 0; i < costs.Length; i++)
            {
                Assert.True(admitted[i] || costs[i] > limit - held, $"request {i} (cost {costs[i]}) was refused with {limit - held} room left");
            }
            long committed = 0;
            Parallel.For(0, costs.Length, i =>
            {
                if (admitted[i])
                {
                    var actual = (long)(costs[i] * actualFractions[i]);
                    var settled = store.Settle($"r{i}", actual);
                    Interlocked.Exchange(ref committed, Math.Max(Interlocked.Read(ref committed), settled.Single().Committed));
                }
            });
            Assert.True(committed <= limit);
        }, iter: 200, threads: 1);
    }

    // Three budgets per request with random limits: a request is admitted only if all three have room,
    // and no budget's held total ever passes its limit.
    [Fact]
    public void Reserve_ThreeBudgetsRandomInterleavings_AllOrNothing()
    {
        var gen = Gen.Select(Gen.Long[1, 1_000].Array[50, 200], Gen.Long[1, 50_000].Array[3]);
        gen.Sample((costs, limits) =>
        {
            var store = new InMemoryCounterStore();
            var admitted = new bool[costs.Length];
            Parallel.For(0, costs.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
            {
                admitted[i] = store.Reserve($"r{i}", [.. limits.Select((l, b) => new CounterEntry($"b:{b}:0", l, costs[i], CounterKind.Budget))], 0, 1_000_000).Admitted;
            });
            var held = costs.Where((_, i) => admitted[i]).Sum();
            for (var b = 0; b < 3; b++)
            {
                var level = store.ReadAsync($"b:{b}:0", 0, CancellationToken.None).GetAwaiter().GetResult();
                Assert.Equal(held, level.Held);
                Assert.True(level.Held <= limits[b]);
            }
        }, iter: 200, threads: 1);
    }

    [Fact]
    public async Task Reserve_PastLimitWithHardCap_RefusesWithBudgetNameAndResetTime()
    {
        await using var harness = new LedgerHarness(Config1(NewBudget(limit: 1m)));
        var first = await harness.ReserveAsync(0.8);
        await harness.SettleAsync(first, 0.8);

        var refused = await harness.ReserveAsync(0.3);

        Assert.False(refused.Admitted);
        Assert.Equal("budget_exceeded", refused.Reason);
        Assert.Contains("ds-monthly", refused.Message, StringComparison.Ordinal);
        Assert.Contains("2026-04-01T00:00:00Z", refused.Message, StringComparison.Ordinal);
        Assert.Equal(new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds(), refused.ResetAtUnix);
        Assert.Equal((int)(new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero) - Start).TotalSeconds, refused.RetryAfterSeconds);
        Assert.Equal(0.2, refused.RemainingUsd, 9);
    }

    [Fact]
    public async Task Reserve_FreeModelPastLimit_StaysAllowed()
    {
        await using var harness = new LedgerHarness(Config1(NewBudget(limit: 1m)));
        await harness.SettleAsync(await harness.ReserveAsync(1), 1);

        Assert.False((await harness.ReserveAsync(0.01)).Admitted);
        Assert.True((await harness.ReserveAsync(0, model: "llama-3-70b")).Admitted);
    }

    [Fact]
    public async Task Reserve_SoftBudgetPastLimit_AdmitsAndReportsExhausted()
    {
        await using var harness = new LedgerHarness(Config1(NewBudget(limit: 1m) with { HardCap = false }));
        await harness.SettleAsync(await harness.ReserveAsync(1), 1.5);

        Assert.True((await harness.ReserveAsync(0.5)).Admitted);
        Assert.Equal("exhausted", (await harness.StatusAsync("ds-monthly")).State);
    }

    [Fact]
    public async Task Reserve_PastDowngradeThreshold_NamesCheaperModelAndReason()
    {
        var budget = NewBudget(limit: 10m) with { Downgrade = new DowngradeConfig { At = 0.9, Models = new() { ["gpt-4o"] = "gpt-4o-mini" } } };
        await using var harness = new LedgerHarness(Config1(budget));
        var before = await harness.ReserveAsync(0.1);
        Assert.Equal("", before.DowngradeTo);
        await harness.SettleAsync(before, 9);

        var after = await harness.ReserveAsync(0.1);
        var unmapped = await harness.ReserveAsync(0.1, model: "claude-sonnet-4");

        Assert.Equal("gpt-4o-mini", after.DowngradeTo);
        Assert.Contains("ds-monthly", after.DowngradeReason, StringComparison.Ordinal);
        Assert.Contains("ds-monthly=downgraded:gpt-4o->gpt-4o-mini", after.Decisions);
        Assert.Equal("", unmapped.DowngradeTo);
    }

    [Fact]
    public async Task Settle_CrossingThresholds_FiresEachAlertOncePerPeriod()
    {
        var budget = NewBudget(limit: 10m) with { Alerts = [0.5, 0.8], HardCap = false };
        await using var harness = new LedgerHarness(Config1(budget));

        var fired = new List<string>();
        foreach (var cost in new[] { 4.0, 1.5, 0.5, 2.5, 1.0, 1.0 })
        {
            fired.AddRange((await harness.SettleAsync(await harness.ReserveAsync(cost), cost)).Alerts);
        }

        Assert.Equal(["ds-monthly:0.5", "ds-monthly:0.8"], fired);
        Assert.Equal([0.5, 0.8], harness.Alerts.Alerts.Select(a => a.Threshold));
        Assert.Equal([0.5, 0.8], (await harness.StatusAsync("ds-monthly")).AlertsFired);

        // Next month the thresholds arm again.
        harness.Time.SetUtcNow(new DateTimeOffset(2026, 4, 1, 0, 0, 1, TimeSpan.Zero));
        await harness.SettleAsync(await harness.ReserveAsync(6), 6);
        Assert.Equal(3, harness.Alerts.Alerts.Count);
    }

    [Fact]
    public async Task Reserve_AfterPeriodRollover_StartsFromZero()
    {
        await using var harness = new LedgerHarness(Config1(NewBudget(limit: 1m, period: "day")));
        await harness.SettleAsync(await harness.ReserveAsync(1), 1);
        Assert.False((await harness.ReserveAsync(0.1)).Admitted);

        harness.Time.SetUtcNow(new DateTimeOffset(2026, 3, 14, 23, 59, 59, TimeSpan.Zero));
        Assert.False((await harness.ReserveAsync(0.1)).Admitted);
        harness.Time.Advance(TimeSpan.FromSeconds(1));

        Assert.True((await harness.ReserveAsync(0.1)).Admitted);
        var status = await harness.StatusAsync("ds-monthly");
        Assert.Equal(new DateTimeOffset(2026, 3, 15, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds(), status.PeriodStartUnix);
        Assert.Equal(0, status.CommittedUsd);
    }

    [Fact]
    public void Periods_WeekInTimezone_StartsMondayLocalMidnight()
    {
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        // Saturday 2026-03-14 12:00 UTC = 13:00 in Berlin; the week began Monday 2026-03-09 00:00 CET (23:00 UTC Sunday).
        var (start, end) = Periods.Current("week", berlin, Start);
        Assert.Equal(new DateTimeOffset(2026, 3, 8, 23, 0, 0, TimeSpan.Zero), start);
        // The next Monday is after the switch to summer time (2026-03-29): 22:00 UTC.
        Assert.Equal(new DateTimeOffset(2026, 3, 15, 23, 0, 0, TimeSpan.Zero), end);
        var (monthStart, monthEnd) = Periods.Current("month", berlin, Start);
        Assert.Equal(new DateTimeOffset(2026, 2, 28, 23, 0, 0, TimeSpan.Zero), monthStart);
        Assert.Equal(new DateTimeOffset(2026, 3, 31, 22, 0, 0, TimeSpan.Zero), monthEnd);
    }

    [Fact]
    public async Task Reserve_CrashedRequestsHold_IsFreedWhenItsLeaseEnds()
    {
        var config = Config1(NewBudget(limit: 1m)) with { BudgetSettings = new BudgetSettingsConfig { LeaseSeconds = 60 } };
        await using var harness = new LedgerHarness(config);
        var crashed = await harness.ReserveAsync(1);
        Assert.True(crashed.Admitted);
        Assert.False((await harness.ReserveAsync(0.5)).Admitted);

        harness.Time.Advance(TimeSpan.FromSeconds(59));
        Assert.False((await harness.ReserveAsync(0.5)).Admitted);
        harness.Time.Advance(TimeSpan.FromSeconds(1));

        Assert.True((await harness.ReserveAsync(0.5)).Admitted);
        // A late settle of the expired reservation still books what was spent.
        await harness.SettleAsync(crashed, 0.25);
        Assert.Equal(0.25, (await harness.StatusAsync("ds-monthly")).CommittedUsd, 9);
    }

    [Fact]
    public async Task Release_FailedRequest_FreesItsHold()
    {
        await using var harness = new LedgerHarness(Config1(NewBudget(limit: 1m)));
        var failed = await harness.ReserveAsync(1);
        await harness.ReleaseAsync(failed);
        Assert.True((await harness.ReserveAsync(1)).Admitted);
    }

    [Fact]
    public async Task Reserve_BudgetsForOtherScopes_DoNotApply()
    {
        var config = Config1(
            NewBudget("team", limit: 1m),
            NewBudget("user-bob", limit: 1m, scope: new ScopeConfig { User = "bob" }),
            NewBudget("ds-prod-key", limit: 1m, scope: new ScopeConfig { Key = "ds-prod", Environment = "prod" }));
        await using var harness = new LedgerHarness(config);

        var reservation = await harness.ReserveAsync(0.1);

        Assert.Equal(["team", "ds-prod-key"], reservation.Budgets);
        Assert.Equal(0.9, reservation.RemainingUsd, 9);
        var none = await harness.ReserveAsync(0.1, principal: Principal(team: "web", key: "web", user: "carol"));
        Assert.Empty(none.Budgets);
        Assert.Equal("", none.ReservationId);
    }

    [Fact]
    public async Task Adjust_Credit_ReopensExhaustedBudget()
    {
        await using var harness = new LedgerHarness(Config1(NewBudget(limit: 1m)));
        await harness.SettleAsync(await harness.ReserveAsync(1), 1);
        Assert.False((await harness.ReserveAsync(0.5)).Admitted);

        var status = await harness.Ledger.AdjustBudgetAsync(new() { Name = "ds-monthly", AmountUsd = -0.5 }, CancellationToken.None);

        Assert.Equal(0.5, status.CommittedUsd, 9);
        Assert.True((await harness.ReserveAsync(0.5)).Admitted);
    }
}
