using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.Channels;
using Gateway.Budget.Store;
using Gateway.Common;
using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Common.Events;
using Gateway.Contracts.Budget.V1;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Events.V1;

namespace Gateway.Budget;

public interface IAlertSink
{
    void Enqueue(BudgetAlert alert);
}

// Budgets and rate limits, enforced before the provider is called. A reservation holds the request's
// maximum cost in every matching budget (and a slot in every matching concurrency limit) in one atomic
// store operation; settling commits the real cost and frees the rest; a lease frees what a crashed request
// held. Amounts are integer nano-USD so concurrent additions are exact.
public sealed class BudgetLedger(
    ConfigMonitor config,
    ICounterStore store,
    SqlLedger ledger,
    IAlertSink alerts,
    TimeProvider time,
    ILogger<BudgetLedger> logger) : IBudgetService
{
    public const decimal NanosPerUsd = 1_000_000_000m;

    private readonly ConcurrentDictionary<string, bool> _seeded = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _fired = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TimeZoneInfo> _zones = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<Func<CancellationToken, Task>> _retries = new();
    private int _retrying;
    // Usage events leave after the settlement has answered: the spend is in the ledger already and the event
    // only informs, so the settle call on every request's response path does not wait for a publish (in the
    // mesh, a round trip to the sidecar). One sender keeps them in settlement order; bounded, so a sidecar that
    // stops taking events slows settlements down instead of growing memory.
    private readonly Channel<BudgetUsageEvent> _usage = Channel.CreateBounded<BudgetUsageEvent>(new BoundedChannelOptions(10_000) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private int _announcing;

    // True when counters are shared by replicas (Redis): alert markers must be claimed there too.
    public bool SharedStore { get; init; }

    // Where settlements are announced (topic budget-usage), for billing exports and analytics; none in unit tests.
    public IEventBus? Events { get; init; }

    public async Task<Reservation> ReserveAsync(ReserveRequest request, CancellationToken cancellationToken)
    {
        var current = config.Current;
        var principal = request.Principal ?? new Principal();
        var budgets = current.Budgets.Where(b => b.Scope.Covers(principal)).ToList();
        var limits = current.RateLimits.Where(l => l.Scope.Covers(principal)).ToList();
        if (budgets.Count == 0 && limits.Count == 0)
        {
            return new Reservation { Admitted = true, RemainingUsd = -1, Message = "no budget applies to this principal" };
        }

        var now = time.GetUtcNow();
        var nowMs = now.ToUnixTimeMilliseconds();
        var amount = ToNanos((decimal)Math.Max(0, request.MaxCostUsd), ceiling: true);
        var entries = new List<CounterEntry>(budgets.Count + limits.Count * 3);
        var minute = nowMs / 60_000;
        foreach (var limit in limits)
        {
            if (limit.RequestsPerMinute is { } rpm)
            {
                entries.Add(new CounterEntry($"rl:{limit.Name}:r:{minute}", rpm, 1, CounterKind.Window, 120_000));
            }
            if (limit.TokensPerMinute is { } tpm)
            {
                entries.Add(new CounterEntry($"rl:{limit.Name}:t:{minute}", tpm, Math.Max(0, request.MaxTokens), CounterKind.Window, 120_000));
            }
            if (limit.ConcurrentRequests is { } concurrent)
            {
                entries.Add(new CounterEntry($"rl:{limit.Name}:c", concurrent, 1, CounterKind.Concurrency));
            }
        }
        var firstBudget = entries.Count;
        var periods = new (DateTimeOffset Start, DateTimeOffset End)[budgets.Count];
        for (var i = 0; i < budgets.Count; i++)
        {
            var budget = budgets[i];
            periods[i] = Period(budget, now);
            var exempt = !budget.HardCap || (budget.AllowFree && amount == 0);
            // Shared counters outlive their period by a week (late settles, the admin view), then expire.
            var expireAt = periods[i].End.AddDays(7).ToUnixTimeMilliseconds();
            entries.Add(new CounterEntry(BudgetKey(budget.Name, periods[i].Start), exempt ? -1 : ToNanos(budget.LimitUsd, ceiling: false), amount, CounterKind.Budget, ExpireAtMs: expireAt));
        }

        var reservationId = Ids.NewId();
        ReserveResult result;
        try
        {
            for (var i = 0; i < budgets.Count; i++)
            {
                await SeedAsync(budgets[i].Name, periods[i].Start, cancellationToken);
            }
            var lease = (long)(current.BudgetSettings.LeaseSeconds * 1000);
            result = await store.ReserveAsync(reservationId, [.. entries], nowMs, nowMs + lease, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            BudgetLog.StoreUnreachable(logger, e, "reserve");
            if (budgets.Count > 0 && budgets.All(b => b.FailOpen))
            {
                var open = new Reservation { Admitted = true, RemainingUsd = -1, Message = "budget store unreachable; admitted (fail_open)" };
                open.Budgets.AddRange(budgets.Select(b => b.Name));
                open.Decisions.AddRange(budgets.Select(b => $"{b.Name}=fail_open"));
                return open;
            }
            throw new GatewayException(ErrorKind.Unavailable, "The budget store is unreachable; the request was not sent (budgets fail closed).", code: "budget_store_unavailable");
        }

        var reservation = new Reservation { Admitted = result.Admitted, RemainingUsd = -1 };
        reservation.Budgets.AddRange(budgets.Select(b => b.Name));
        if (!result.Admitted)
        {
            var refused = entries[result.RefusedIndex];
            if (result.RefusedIndex < firstBudget)
            {
                var limit = limits.First(l => refused.Key.StartsWith($"rl:{l.Name}:", StringComparison.Ordinal));
                var retry = refused.Kind == CounterKind.Window ? (int)Math.Ceiling((60_000 - nowMs % 60_000) / 1000.0) : 1;
                reservation.Reason = "rate_limit_exceeded";
                reservation.RetryAfterSeconds = Math.Max(1, retry);
                reservation.Message = refused.Kind switch
                {
                    CounterKind.Concurrency => $"Rate limit '{limit.Name}' reached: at most {refused.Limit} concurrent requests. Retry after {reservation.RetryAfterSeconds}s.",
                    _ when refused.Key.Contains(":t:", StringComparison.Ordinal) => $"Rate limit '{limit.Name}' reached: {refused.Limit} tokens per minute (this request may use {refused.Amount}). Retry after {reservation.RetryAfterSeconds}s.",
                    _ => $"Rate limit '{limit.Name}' reached: {refused.Limit} requests per minute. Retry after {reservation.RetryAfterSeconds}s.",
                };
                reservation.RateLimit = RateStatus(entries, result.Levels, 0, firstBudget, nowMs);
                reservation.Decisions.Add($"{limit.Name}=rate_limited");
            }
            else
            {
                var index = result.RefusedIndex - firstBudget;
                var budget = budgets[index];
                var (_, end) = periods[index];
                reservation.Reason = "budget_exceeded";
                reservation.ResetAtUnix = end.ToUnixTimeSeconds();
                reservation.RetryAfterSeconds = (int)Math.Clamp(Math.Ceiling((end - now).TotalSeconds), 1, int.MaxValue);
                reservation.RemainingUsd = Math.Max(0, (double)((ToNanos(budget.LimitUsd, false) - result.Levels[result.RefusedIndex]) / NanosPerUsd));
                reservation.Message = string.Create(CultureInfo.InvariantCulture,
                    $"Budget '{budget.Name}' is exhausted: {FromNanos(result.Levels[result.RefusedIndex]):0.######} of {budget.LimitUsd:0.##} USD committed or reserved this {budget.Period}, and this request may cost up to {FromNanos(amount):0.######} USD. It resets at {end.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}.");
                reservation.Decisions.Add($"{budget.Name}=refused");
            }
            return reservation;
        }

        if (entries.Any(e => e.Kind != CounterKind.Window))
        {
            reservation.ReservationId = reservationId;
        }
        if (firstBudget > 0)
        {
            reservation.RateLimit = RateStatus(entries, result.Levels, 0, firstBudget, nowMs);
        }
        var remaining = decimal.MaxValue;
        for (var i = 0; i < budgets.Count; i++)
        {
            var budget = budgets[i];
            var limitNanos = ToNanos(budget.LimitUsd, false);
            var level = result.Levels[firstBudget + i];
            remaining = Math.Min(remaining, (limitNanos - level) / NanosPerUsd);
            var before = level - amount;
            if (budget.Downgrade is { } downgrade && reservation.DowngradeTo.Length == 0 && before >= (decimal)downgrade.At * limitNanos
                && downgrade.Models.TryGetValue(request.Model, out var cheaper))
            {
                reservation.DowngradeTo = cheaper;
                reservation.DowngradeReason = string.Create(CultureInfo.InvariantCulture, $"budget {budget.Name} at {(double)before / (double)limitNanos:P0} of its limit (downgrade at {downgrade.At:P0})");
                reservation.Decisions.Add($"{budget.Name}=downgraded:{request.Model}->{cheaper}");
            }
            else
            {
                reservation.Decisions.Add($"{budget.Name}=admitted");
            }
        }
        if (budgets.Count > 0)
        {
            reservation.RemainingUsd = (double)Math.Max(0, remaining);
        }
        return reservation;
    }

    public async Task<SettleResponse> SettleAsync(SettleRequest request, CancellationToken cancellationToken)
    {
        var response = new SettleResponse();
        if (request.ReservationId.Length == 0)
        {
            return response;
        }
        var cost = ToNanos((decimal)Math.Max(0, request.ActualCostUsd), ceiling: false);
        var usage = new BudgetUsageEvent
        {
            // One settlement per reservation: its id is the event id, so a redelivery is recognised.
            EventId = request.ReservationId,
            ReservationId = request.ReservationId,
            RequestId = CallContext.Current?.RequestId ?? "",
            Principal = CallContext.Current?.Principal,
            CostUsd = request.ActualCostUsd,
            Usage = request.Usage,
            SettledUnixMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };
        IReadOnlyList<Settled> settled;
        try
        {
            settled = await store.SettleAsync(request.ReservationId, cost, time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The provider has answered already; failing the response now would not unspend the money. The
            // settlement is retried until the store is back, so the spend is committed late rather than never.
            // Settling is idempotent by reservation id: if the first attempt was applied and only its reply was
            // lost, the retry gets the same levels back and the ledger row is still booked, once.
            BudgetLog.StoreUnreachable(logger, e, "settle");
            RetryLater(async ct => await CommitAsync(request.ReservationId, await store.SettleAsync(request.ReservationId, cost, time.GetUtcNow().ToUnixTimeMilliseconds(), ct), cost, ct));
            return response;
        }
        foreach (var (key, committed) in settled)
        {
            if (TryParseBudgetKey(key, out var name, out var start))
            {
                usage.Budgets.Add(new BudgetLevel { Name = name, PeriodStartUnix = start.ToUnixTimeSeconds(), CommittedUsd = (double)FromNanos(committed) });
            }
        }
        await CommitAsync(request.ReservationId, settled, cost, cancellationToken, response);
        await AnnounceAsync(usage);
        return response;
    }

    // The durable side of a settlement: the ledger row per budget (what a restart seeds the counters from), then
    // the alert thresholds. A ledger write that fails is retried until it lands, so a restart never under-counts;
    // bookings are keyed by reservation id, so one that landed but reported failure is not counted twice.
    private async Task CommitAsync(string reservationId, IReadOnlyList<Settled> settled, long cost, CancellationToken cancellationToken, SettleResponse? response = null)
    {
        var budgets = new List<(string Name, DateTimeOffset Start, long Committed)>(settled.Count);
        foreach (var (key, committed) in settled)
        {
            if (TryParseBudgetKey(key, out var name, out var start))
            {
                budgets.Add((name, start, committed));
            }
        }
        if (cost != 0 && budgets.Count > 0)
        {
            var rows = budgets.Select(b => (b.Name, b.Start.ToUnixTimeSeconds())).ToList();
            var settledAt = time.GetUtcNow().ToUnixTimeSeconds();
            try
            {
                await ledger.BookSettlementAsync(reservationId, rows, cost, settledAt, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                BudgetLog.StoreUnreachable(logger, e, "ledger write");
                RetryLater(ct => ledger.BookSettlementAsync(reservationId, rows, cost, settledAt, ct));
            }
        }
        foreach (var (name, start, committed) in budgets)
        {
            try
            {
                await CheckAlertsAsync(name, start, committed, response ?? new SettleResponse(), cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                BudgetLog.StoreUnreachable(logger, e, "alerts");
            }
        }
    }

    private void RetryLater(Func<CancellationToken, Task> work)
    {
        _retries.Enqueue(work);
        if (Interlocked.CompareExchange(ref _retrying, 1, 0) == 0)
        {
            _ = Task.Run(DrainRetriesAsync);
        }
    }

    private async Task DrainRetriesAsync()
    {
        var delay = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            if (!_retries.TryPeek(out var work))
            {
                Volatile.Write(ref _retrying, 0);
                // Something queued between the peek and the reset starts no second drainer: take it on here.
                if (_retries.IsEmpty || Interlocked.CompareExchange(ref _retrying, 1, 0) != 0)
                {
                    return;
                }
                continue;
            }
            try
            {
                await work(CancellationToken.None);
                _retries.TryDequeue(out _);
                delay = TimeSpan.FromMilliseconds(100);
            }
            catch (Exception e)
            {
                BudgetLog.RetryFailed(logger, e, _retries.Count, (long)delay.TotalMilliseconds);
                await Task.Delay(delay, time);
                delay = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(5).Ticks, delay.Ticks * 2));
            }
        }
    }

    // Settlements and ledger writes waiting for their store (0 when everything is booked).
    public int PendingRetries => _retries.Count;

    private async ValueTask AnnounceAsync(BudgetUsageEvent usage)
    {
        if (Events is not { } events || usage.Budgets.Count == 0)
        {
            return;
        }
        if (Interlocked.CompareExchange(ref _announcing, 1, 0) == 0)
        {
            _ = Task.Run(() => SendUsageAsync(events));
        }
        if (!_usage.Writer.TryWrite(usage))
        {
            await _usage.Writer.WriteAsync(usage);
        }
    }

    private async Task SendUsageAsync(IEventBus events)
    {
        await foreach (var usage in _usage.Reader.ReadAllAsync())
        {
            await PublishAsync(events, usage);
        }
    }

    private async Task PublishAsync(IEventBus events, BudgetUsageEvent usage)
    {
        try
        {
            await events.PublishAsync(Topics.BudgetUsage, usage, CancellationToken.None);
        }
        catch (Exception e)
        {
            // The spend is booked in the ledger already; the event only informs.
            BudgetLog.UsagePublishFailed(logger, e, usage.ReservationId);
        }
    }

    public async Task ReleaseAsync(ReleaseRequest request, CancellationToken cancellationToken)
    {
        if (request.ReservationId.Length == 0)
        {
            return;
        }
        try
        {
            await store.SettleAsync(request.ReservationId, 0, time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The lease frees the hold when the store is back.
            BudgetLog.StoreUnreachable(logger, e, "release");
        }
    }

    public async Task<BudgetList> ListBudgetsAsync(CancellationToken cancellationToken)
    {
        var list = new BudgetList();
        foreach (var budget in config.Current.Budgets)
        {
            list.Budgets.Add(await StatusAsync(budget, cancellationToken));
        }
        return list;
    }

    public const double MaxAdjustmentUsd = 1_000_000_000;

    public async Task<BudgetStatus> AdjustBudgetAsync(AdjustBudgetRequest request, CancellationToken cancellationToken)
    {
        var budget = config.Current.Budgets.FirstOrDefault(b => b.Name == request.Name)
            ?? throw new GatewayException(ErrorKind.NotFound, $"No budget named '{request.Name}' is configured.", "name");
        // Counters hold nano-dollars in 64 bits; an amount past this bound is a typo, and would overflow them.
        if (!double.IsFinite(request.AmountUsd) || Math.Abs(request.AmountUsd) > MaxAdjustmentUsd)
        {
            throw GatewayException.BadRequest($"'amount_usd' must be a number from -{MaxAdjustmentUsd:0} to {MaxAdjustmentUsd:0}.", "amount_usd");
        }
        var (start, _) = Period(budget, time.GetUtcNow());
        await SeedAsync(budget.Name, start, cancellationToken);
        var delta = ToNanos((decimal)request.AmountUsd, ceiling: false);
        await store.AdjustAsync(BudgetKey(budget.Name, start), delta, cancellationToken);
        await ledger.AddCommittedAsync(budget.Name, start.ToUnixTimeSeconds(), delta, cancellationToken);
        return await StatusAsync(budget, cancellationToken);
    }

    private async Task<BudgetStatus> StatusAsync(BudgetConfig budget, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var (start, end) = Period(budget, now);
        await SeedAsync(budget.Name, start, cancellationToken);
        var level = await store.ReadAsync(BudgetKey(budget.Name, start), now.ToUnixTimeMilliseconds(), cancellationToken);
        var fired = await ledger.AlertsFiredAsync(budget.Name, start.ToUnixTimeSeconds(), cancellationToken);
        var limit = ToNanos(budget.LimitUsd, false);
        var used = level.Committed + level.Held;
        var state = used >= limit ? "exhausted"
            : budget.Downgrade is { } d && used >= (decimal)d.At * limit ? "downgrading"
            : fired.Count > 0 ? "alerting"
            : "ok";
        var status = new BudgetStatus
        {
            Name = budget.Name,
            Period = budget.Period,
            PeriodStartUnix = start.ToUnixTimeSeconds(),
            PeriodEndUnix = end.ToUnixTimeSeconds(),
            LimitUsd = (double)budget.LimitUsd,
            CommittedUsd = (double)FromNanos(level.Committed),
            ReservedUsd = (double)FromNanos(level.Held),
            RemainingUsd = (double)FromNanos(Math.Max(0, limit - used)),
            State = state,
        };
        status.AlertsFired.AddRange(fired.Select(p => p / 1000.0));
        return status;
    }

    private async Task CheckAlertsAsync(string name, DateTimeOffset start, long committed, SettleResponse response, CancellationToken cancellationToken)
    {
        var budget = config.Current.Budgets.FirstOrDefault(b => b.Name == name);
        if (budget is null || budget.Alerts.Count == 0)
        {
            return;
        }
        var limit = ToNanos(budget.LimitUsd, false);
        foreach (var threshold in budget.Alerts)
        {
            if (committed < (decimal)threshold * limit)
            {
                continue;
            }
            var permille = (int)Math.Round(threshold * 1000);
            var marker = $"{name}:{start.ToUnixTimeSeconds()}:{permille}";
            if (_fired.ContainsKey(marker))
            {
                continue;
            }
            var claimed = !SharedStore || await store.MarkOnceAsync(marker, cancellationToken);
            var recorded = await ledger.TryMarkAlertAsync(name, start.ToUnixTimeSeconds(), permille, time.GetUtcNow().ToUnixTimeSeconds(), cancellationToken);
            _fired[marker] = true;
            if (SharedStore ? claimed : recorded)
            {
                var (_, end) = Period(budget, start);
                alerts.Enqueue(new BudgetAlert("budget.threshold", name, threshold, budget.LimitUsd, FromNanos(committed), start, end, time.GetUtcNow()));
                response.Alerts.Add(string.Create(CultureInfo.InvariantCulture, $"{name}:{threshold}"));
            }
        }
    }

    private async Task SeedAsync(string name, DateTimeOffset start, CancellationToken cancellationToken)
    {
        var key = BudgetKey(name, start);
        if (_seeded.ContainsKey(key))
        {
            return;
        }
        var committed = await ledger.CommittedAsync(name, start.ToUnixTimeSeconds(), cancellationToken);
        await store.SeedAsync(key, committed, cancellationToken);
        _seeded[key] = true;
    }

    private static RateLimitStatus RateStatus(List<CounterEntry> entries, long[] levels, int from, int to, long nowMs)
    {
        var status = new RateLimitStatus { ResetSeconds = (int)Math.Ceiling((60_000 - nowMs % 60_000) / 1000.0) };
        long requestsRemaining = long.MaxValue, tokensRemaining = long.MaxValue;
        for (var i = from; i < to; i++)
        {
            var entry = entries[i];
            if (entry.Kind != CounterKind.Window)
            {
                continue;
            }
            var remaining = Math.Max(0, entry.Limit - levels[i]);
            if (entry.Key.Contains(":r:", StringComparison.Ordinal) && remaining < requestsRemaining)
            {
                requestsRemaining = remaining;
                status.LimitRequests = entry.Limit;
                status.RemainingRequests = remaining;
            }
            else if (entry.Key.Contains(":t:", StringComparison.Ordinal) && remaining < tokensRemaining)
            {
                tokensRemaining = remaining;
                status.LimitTokens = entry.Limit;
                status.RemainingTokens = remaining;
            }
        }
        return status;
    }

    private (DateTimeOffset Start, DateTimeOffset End) Period(BudgetConfig budget, DateTimeOffset now)
    {
        var zone = _zones.GetOrAdd(budget.Timezone ?? "UTC", id => id == "UTC" ? TimeZoneInfo.Utc : TimeZoneInfo.FindSystemTimeZoneById(id));
        return Periods.Current(budget.Period, zone, now);
    }

    public static string BudgetKey(string name, DateTimeOffset start) => $"b:{name}:{start.ToUnixTimeSeconds()}";

    private static bool TryParseBudgetKey(string key, out string name, out DateTimeOffset start)
    {
        var last = key.LastIndexOf(':');
        if (key.StartsWith("b:", StringComparison.Ordinal) && last > 2 && long.TryParse(key.AsSpan(last + 1), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds))
        {
            name = key[2..last];
            start = DateTimeOffset.FromUnixTimeSeconds(seconds);
            return true;
        }
        name = "";
        start = default;
        return false;
    }

    public static long ToNanos(decimal usd, bool ceiling) => (long)(ceiling ? Math.Ceiling(usd * NanosPerUsd) : Math.Round(usd * NanosPerUsd));

    public static decimal FromNanos(long nanos) => nanos / NanosPerUsd;
}
