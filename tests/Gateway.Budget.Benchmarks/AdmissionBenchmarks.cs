using BenchmarkDotNet.Attributes;
using Gateway.Budget;
using Gateway.Budget.Store;
using Gateway.Common.Configuration;
using Gateway.Contracts.Budget.V1;
using Gateway.Contracts.Common.V1;
using Gateway.Testing.Servers;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace Gateway.Budget.Benchmarks;

// One admission check (reserve) against three matching budgets (team, project, key), followed by the
// release that frees it, so the ledger stays in a steady state. In memory and on a real redis-server.
[MemoryDiagnoser]
public class AdmissionBenchmarks
{
    private readonly Principal _principal = new() { KeyName = "ds-prod", Team = "data-science", Project = "churn", Environment = "prod" };
    private string _directory = "";
    private SqlLedger? _sql;
    private BudgetLedger _memory = null!;
    private BudgetLedger _redis = null!;
    private RedisServer? _server;
    private ConnectionMultiplexer? _connection;

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    public async Task SetupAsync()
    {
        var config = new GatewayConfig
        {
            Budgets =
            [
                new BudgetConfig { Name = "team", Scope = new ScopeConfig { Team = "data-science" }, LimitUsd = 1_000_000m, Alerts = [0.5, 0.8] },
                new BudgetConfig { Name = "project", Scope = new ScopeConfig { Project = "churn" }, LimitUsd = 100_000m, Period = "week" },
                new BudgetConfig { Name = "key", Scope = new ScopeConfig { Key = "ds-prod" }, LimitUsd = 10_000m, Period = "day", Timezone = "Europe/Berlin" },
            ],
        };
        _directory = Path.Combine(Path.GetTempPath(), "gateway-budget-bench", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        _sql = SqlLedger.Open($"sqlite://{_directory}/state.db");
        var monitor = new ConfigMonitor(config, null, NullLogger<ConfigMonitor>.Instance);
        _memory = new BudgetLedger(monitor, new InMemoryCounterStore(), _sql, new NoAlerts(), TimeProvider.System, NullLogger<BudgetLedger>.Instance);
        _server = await RedisServer.StartAsync();
        _connection = await ConnectionMultiplexer.ConnectAsync(BudgetService.RedisOptions(_server.Uri));
        _redis = new BudgetLedger(monitor, new RedisCounterStore(_connection), _sql, new NoAlerts(), TimeProvider.System, NullLogger<BudgetLedger>.Instance) { SharedStore = true };
        // Warm: ledger rows seeded, scripts loaded.
        await CheckAsync(_memory);
        await CheckAsync(_redis);
    }

    [Benchmark(Baseline = true)]
    public Task InMemory_ThreeBudgets() => CheckAsync(_memory);

    [Benchmark]
    public Task Redis_ThreeBudgets() => CheckAsync(_redis);

    public async Task CheckAsync(BudgetLedger ledger)
    {
        var reservation = await ledger.ReserveAsync(new ReserveRequest { Principal = _principal, Model = "gpt-4o", MaxCostUsd = 0.0123, MaxTokens = 1000 }, CancellationToken.None);
        if (reservation.Budgets.Count != 3 || !reservation.Admitted)
        {
            throw new InvalidOperationException("expected three matching budgets with room");
        }
        await ledger.ReleaseAsync(new ReleaseRequest { ReservationId = reservation.ReservationId }, CancellationToken.None);
    }

    public BudgetLedger Memory => _memory;

    public BudgetLedger Redis => _redis;

    [GlobalCleanup]
    public void Cleanup() => CleanupAsync().GetAwaiter().GetResult();

    public async Task CleanupAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        if (_sql is not null)
        {
            await _sql.DisposeAsync();
        }
    }

    private sealed class NoAlerts : IAlertSink
    {
        public void Enqueue(BudgetAlert alert)
        {
        }
    }
}
