using Gateway.Budget.Store;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Testing.Servers;
using StackExchange.Redis;
using static Gateway.Budget.Tests.LedgerHarness;

namespace Gateway.Budget.Tests;

// Two budget ledgers (two replicas) sharing one real redis-server started for this class.
public sealed class RedisReplicaTests : IAsyncLifetime
{
    private RedisServer? _redis;
    private ConnectionMultiplexer? _connection;

    public async ValueTask InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _connection = await ConnectionMultiplexer.ConnectAsync(BudgetService.RedisOptions(_redis.Uri));
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }

    private RedisCounterStore Store(string prefix) => new(_connection!, prefix);

    [Fact]
    public async Task Reserve_TwoReplicas200Concurrent_AdmitExactlyFifty()
    {
        var prefix = $"t{Guid.NewGuid():N}:";
        var config = Config1(NewBudget(limit: 5m));
        await using var replicaA = new LedgerHarness(config, Store(prefix), shared: true);
        await using var replicaB = new LedgerHarness(config, Store(prefix), time: replicaA.Time, shared: true);
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = Enumerable.Range(0, 200).Select(async i =>
        {
            await start.Task;
            return await (i % 2 == 0 ? replicaA : replicaB).ReserveAsync(0.1);
        }).ToList();
        start.SetResult();
        var reservations = await Task.WhenAll(tasks);

        Assert.Equal(50, reservations.Count(r => r.Admitted));
        await Task.WhenAll(reservations.Where(r => r.Admitted).Select((r, i) => (i % 2 == 0 ? replicaA : replicaB).SettleAsync(r, 0.1)));
        var status = await replicaB.StatusAsync("ds-monthly");
        Assert.Equal(5.0, status.CommittedUsd, 9);
        Assert.Equal(0, status.ReservedUsd);
    }

    [Fact]
    public async Task Reserve_ThreeBudgetsRandomCosts_RedisMatchesLimits()
    {
        var prefix = $"t{Guid.NewGuid():N}:";
        var store = Store(prefix);
        var random = new Random(42);
        var costs = Enumerable.Range(0, 200).Select(_ => (long)random.Next(1, 1000)).ToArray();
        long[] limits = [20_000, 35_000, 50_000];
        var results = await Task.WhenAll(costs.Select((c, i) => store.ReserveAsync($"r{i}", [.. limits.Select((l, b) => new CounterEntry($"b:{b}:0", l, c, CounterKind.Budget))], 0, 1_000_000, CancellationToken.None)));
        var held = costs.Where((_, i) => results[i].Admitted).Sum();
        Assert.True(held <= limits[0]);
        Assert.All(costs.Where((_, i) => !results[i].Admitted), c => Assert.True(c > limits[0] - held));
        for (var b = 0; b < 3; b++)
        {
            Assert.Equal(held, (await store.ReadAsync($"b:{b}:0", 0, CancellationToken.None)).Held);
        }
    }

    [Fact]
    public async Task Reserve_CrashedReplicasHold_IsFreedByLease()
    {
        var prefix = $"t{Guid.NewGuid():N}:";
        var config = Config1(NewBudget(limit: 1m)) with { BudgetSettings = new BudgetSettingsConfig { LeaseSeconds = 30 } };
        await using var crashed = new LedgerHarness(config, Store(prefix), shared: true);
        await using var survivor = new LedgerHarness(config, Store(prefix), time: crashed.Time, shared: true);
        Assert.True((await crashed.ReserveAsync(1)).Admitted);
        Assert.False((await survivor.ReserveAsync(0.5)).Admitted);

        crashed.Time.Advance(TimeSpan.FromSeconds(30));

        Assert.True((await survivor.ReserveAsync(0.5)).Admitted);
    }

    [Fact]
    public async Task Settle_TwoReplicas_FireEachAlertOnce()
    {
        var prefix = $"t{Guid.NewGuid():N}:";
        var config = Config1(NewBudget(limit: 1m) with { Alerts = [0.5] });
        await using var replicaA = new LedgerHarness(config, Store(prefix), shared: true);
        await using var replicaB = new LedgerHarness(config, Store(prefix), time: replicaA.Time, shared: true);
        await replicaA.SettleAsync(await replicaA.ReserveAsync(0.3), 0.3);
        await replicaB.SettleAsync(await replicaB.ReserveAsync(0.3), 0.3);
        await replicaA.SettleAsync(await replicaA.ReserveAsync(0.1), 0.1);

        Assert.Single(replicaA.Alerts.Alerts.Concat(replicaB.Alerts.Alerts));
    }

    [Fact]
    public async Task Reserve_RedisUnreachable_FailsClosedWith503UnlessFailOpen()
    {
        var port = FreePort.Get();
        await using var unreachable = await ConnectionMultiplexer.ConnectAsync(BudgetService.RedisOptions($"redis://127.0.0.1:{port}"));
        await using var closed = new LedgerHarness(Config1(NewBudget()), new RedisCounterStore(unreachable), shared: true);
        var error = await Assert.ThrowsAsync<GatewayException>(() => closed.ReserveAsync(0.1));
        Assert.Equal(ErrorKind.Unavailable, error.Kind);
        Assert.Equal(503, ErrorMapping.HttpStatus(error.Kind));

        await using var open = new LedgerHarness(Config1(NewBudget() with { FailOpen = true }), new RedisCounterStore(unreachable), shared: true);
        var admitted = await open.ReserveAsync(0.1);
        Assert.True(admitted.Admitted);
        Assert.Contains("ds-monthly=fail_open", admitted.Decisions);
    }
}
