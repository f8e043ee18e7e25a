using Gateway.Budget;
using Gateway.Budget.Store;
using Gateway.Common.Configuration;
using Gateway.Contracts.Budget.V1;
using Gateway.Contracts.Common.V1;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Budget.Tests;

public sealed class RecordingAlerts : IAlertSink
{
    public List<BudgetAlert> Alerts { get; } = [];

    public void Enqueue(BudgetAlert alert)
    {
        lock (Alerts)
        {
            Alerts.Add(alert);
        }
    }
}

// One budget ledger as the gateway builds it, over a chosen counter store and SQL ledger, on a fake clock.
public sealed class LedgerHarness : IAsyncDisposable
{
    public static readonly DateTimeOffset Start = new(2026, 3, 14, 12, 0, 0, TimeSpan.Zero);

    private readonly bool _ownsSql;

    public LedgerHarness(GatewayConfig config, ICounterStore? store = null, SqlLedger? sql = null, FakeTimeProvider? time = null, bool shared = false)
    {
        Directory = Path.Combine(Path.GetTempPath(), "gateway-budget-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        _ownsSql = sql is null;
        Sql = sql ?? SqlLedger.Open($"sqlite://{Directory}/state.db");
        Store = store ?? new InMemoryCounterStore();
        Time = time ?? new FakeTimeProvider(Start);
        Config = new ConfigMonitor(config, null, NullLogger<ConfigMonitor>.Instance);
        Ledger = new BudgetLedger(Config, Store, Sql, Alerts, Time, NullLogger<BudgetLedger>.Instance) { SharedStore = shared };
    }

    public string Directory { get; }

    public SqlLedger Sql { get; }

    public ICounterStore Store { get; }

    public FakeTimeProvider Time { get; }

    public ConfigMonitor Config { get; }

    public RecordingAlerts Alerts { get; } = new();

    public BudgetLedger Ledger { get; }

    public static Principal Principal(string team = "data-science", string key = "ds-prod", string user = "alice")
        => new() { KeyName = key, Team = team, Project = "churn", Environment = "prod", User = user };

    public Task<Reservation> ReserveAsync(double maxCost, string model = "gpt-4o", long tokens = 100, Principal? principal = null)
        => Ledger.ReserveAsync(new ReserveRequest { Principal = principal ?? Principal(), Model = model, MaxCostUsd = maxCost, MaxTokens = tokens, RequestId = Guid.NewGuid().ToString("N") }, CancellationToken.None);

    public Task<SettleResponse> SettleAsync(Reservation reservation, double actual)
        => Ledger.SettleAsync(new SettleRequest { ReservationId = reservation.ReservationId, ActualCostUsd = actual }, CancellationToken.None);

    public Task ReleaseAsync(Reservation reservation)
        => Ledger.ReleaseAsync(new ReleaseRequest { ReservationId = reservation.ReservationId }, CancellationToken.None);

    public async Task<BudgetStatus> StatusAsync(string name)
        => (await Ledger.ListBudgetsAsync(CancellationToken.None)).Budgets.Single(b => b.Name == name);

    public static GatewayConfig Config1(params BudgetConfig[] budgets) => new()
    {
        Budgets = [.. budgets],
        Models = new Dictionary<string, ModelConfig>(StringComparer.Ordinal)
        {
            ["gpt-4o"] = new() { Targets = [new TargetConfig { Provider = "openai", Model = "gpt-4o" }] },
            ["gpt-4o-mini"] = new() { Targets = [new TargetConfig { Provider = "openai", Model = "gpt-4o-mini" }] },
        },
    };

    public static BudgetConfig NewBudget(string name = "ds-monthly", decimal limit = 10m, string period = "month", ScopeConfig? scope = null)
        => new() { Name = name, LimitUsd = limit, Period = period, Scope = scope ?? new ScopeConfig { Team = "data-science" } };

    public async ValueTask DisposeAsync()
    {
        if (_ownsSql)
        {
            await Sql.DisposeAsync();
        }
        Config.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // SQLite may hold the file a moment longer; the OS cleans the temp folder.
        }
    }
}
