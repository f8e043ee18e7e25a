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

    [Fact]
    public async Task Settle_RunTwice_CommitsOnce_AndTheRepeatReturnsTheFirstLevels()
    {
        var store = Store($"t{Guid.NewGuid():N}:");
        await store.ReserveAsync("r1", [new CounterEntry("b:x:0", 1_000, 400, CounterKind.Budget), new CounterEntry("b:y:0", -1, 400, CounterKind.Budget)], 0, 60_000, CancellationToken.None);

        var first = await store.SettleAsync("r1", 300, 0, CancellationToken.None);
        var repeat = await store.SettleAsync("r1", 300, 0, CancellationToken.None);

        Assert.Equal([new Settled("b:x:0", 300), new Settled("b:y:0", 300)], first);
        Assert.Equal(first, repeat);
        Assert.Equal(new CounterLevel(300, 0), await store.ReadAsync("b:x:0", 0, CancellationToken.None));
        Assert.Equal(new CounterLevel(300, 0), await store.ReadAsync("b:y:0", 0, CancellationToken.None));
        // A reservation never made settles to nothing.
        Assert.Empty(await store.SettleAsync("never", 300, 0, CancellationToken.None));
    }

    [Fact]
    public async Task Settle_AppliedInRedisButItsReplyLost_TheRetryBooksTheLedgerExactlyOnce()
    {
        var prefix = $"t{Guid.NewGuid():N}:";
        var config = Config1(NewBudget(limit: 10m));
        var lossy = new ReplyLosingStore(Store(prefix));
        await using var replica = new LedgerHarness(config, lossy, shared: true);
        var reservations = new List<Contracts.Budget.V1.Reservation>();
        for (var i = 0; i < 5; i++)
        {
            reservations.Add(await replica.ReserveAsync(1));
        }

        // Every other settlement lands in Redis and then loses its reply.
        for (var i = 0; i < reservations.Count; i++)
        {
            if (i % 2 == 0)
            {
                lossy.LoseReplyOnce(reservations[i].ReservationId);
            }
            await replica.SettleAsync(reservations[i], 0.25);
        }
        await WaitUntilAsync(() => replica.Ledger.PendingRetries == 0);

        Assert.Equal(3, lossy.RepliesLost);
        var status = await replica.StatusAsync("ds-monthly");
        Assert.Equal(1.25, status.CommittedUsd, 9);
        Assert.Equal(0, status.ReservedUsd);
        // The durable ledger agrees, so a restart (fresh counters seeded from it) neither loses nor doubles spend.
        Assert.Equal(1_250_000_000, await replica.Sql.CommittedAsync("ds-monthly", status.PeriodStartUnix, CancellationToken.None));
        await using var restarted = new LedgerHarness(config, Store($"t{Guid.NewGuid():N}:"), replica.Sql, replica.Time, shared: true);
        Assert.Equal(1.25, (await restarted.StatusAsync("ds-monthly")).CommittedUsd, 9);

        // A settle request repeated after all (a caller's retry) changes nothing either.
        await replica.SettleAsync(reservations[0], 0.25);
        Assert.Equal(1.25, (await replica.StatusAsync("ds-monthly")).CommittedUsd, 9);
        Assert.Equal(1_250_000_000, await replica.Sql.CommittedAsync("ds-monthly", status.PeriodStartUnix, CancellationToken.None));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!condition())
        {
            await Task.Delay(20, timeout.Token);
        }
    }

    // The real Redis store, whose settle reply can be lost on the way back: the script has run in Redis, but
    // the caller sees the connection fail, as when the network drops between Redis's answer and the gateway.
    private sealed class ReplyLosingStore(ICounterStore inner) : ICounterStore
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _lose = new(StringComparer.Ordinal);
        private int _repliesLost;

        public int RepliesLost => Volatile.Read(ref _repliesLost);

        public void LoseReplyOnce(string reservationId) => _lose[reservationId] = true;

        public Task SeedAsync(string key, long committed, CancellationToken cancellationToken) => inner.SeedAsync(key, committed, cancellationToken);

        public Task<ReserveResult> ReserveAsync(string reservationId, CounterEntry[] entries, long nowMs, long leaseUntilMs, CancellationToken cancellationToken)
            => inner.ReserveAsync(reservationId, entries, nowMs, leaseUntilMs, cancellationToken);

        public async Task<IReadOnlyList<Settled>> SettleAsync(string reservationId, long cost, long nowMs, CancellationToken cancellationToken)
        {
            var settled = await inner.SettleAsync(reservationId, cost, nowMs, cancellationToken);
            if (_lose.TryRemove(reservationId, out _))
            {
                Interlocked.Increment(ref _repliesLost);
                throw new RedisConnectionException(ConnectionFailureType.SocketFailure, CommandFlags.None, "The connection was reset before the reply arrived.", null, CommandStatus.Sent);
            }
            return settled;
        }

        public Task<CounterLevel> ReadAsync(string key, long nowMs, CancellationToken cancellationToken) => inner.ReadAsync(key, nowMs, cancellationToken);

        public Task<long> AdjustAsync(string key, long delta, CancellationToken cancellationToken) => inner.AdjustAsync(key, delta, cancellationToken);

        public Task<bool> MarkOnceAsync(string marker, CancellationToken cancellationToken) => inner.MarkOnceAsync(marker, cancellationToken);
    }
}
