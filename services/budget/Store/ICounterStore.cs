namespace Gateway.Budget.Store;

// What a counter entry does with its amount.
public enum CounterKind
{
    // A budget: the amount is held until settled; settling commits the actual cost.
    Budget,
    // Concurrent requests: the amount (1) is held until settled or released; nothing is committed.
    Concurrency,
    // A per-window counter (requests or tokens per minute): the amount is added at once and expires with the window.
    Window,
}

// One counter a reservation touches. Limit < 0 means "never refuse" (a soft budget or an exempt request).
// Amounts are integers (nano-USD for budgets, requests or tokens otherwise) so every store adds exactly.
// ExpireAtMs (budgets): when a shared store may drop the counter (its period is long over).
public readonly record struct CounterEntry(string Key, long Limit, long Amount, CounterKind Kind, long WindowMilliseconds = 0, long ExpireAtMs = 0);

// RefusedIndex is the first entry without room (-1: admitted, every entry applied). Levels holds each
// entry's level (committed + held) after admission, or before it when refused.
public sealed record ReserveResult(int RefusedIndex, long[] Levels)
{
    public bool Admitted => RefusedIndex < 0;
}

// A budget counter's committed level after a settlement.
public readonly record struct Settled(string Key, long Committed);

public readonly record struct CounterLevel(long Committed, long Held);

// The atomic heart of admission: check every entry and apply all or none, under one lock (in process) or
// one Lua script (Redis), so concurrent requests, in one process or many replicas, never double-admit.
public interface ICounterStore
{
    // Sets a counter's committed level unless the counter already exists (loading the durable ledger).
    Task SeedAsync(string key, long committed, CancellationToken cancellationToken);

    Task<ReserveResult> ReserveAsync(string reservationId, CounterEntry[] entries, long nowMs, long leaseUntilMs, CancellationToken cancellationToken);

    // Ends a reservation: holds are removed, budget counters commit `cost` (0 on release). Budgets whose
    // hold was already gone (lease expired) still commit: the money was spent. Idempotent by reservation id: a
    // shared store answers a repeat with the first settlement's levels and commits nothing more (its reply can be
    // lost on the network after it was applied); in process, where no reply is lost, a repeat returns nothing.
    Task<IReadOnlyList<Settled>> SettleAsync(string reservationId, long cost, long nowMs, CancellationToken cancellationToken);

    Task<CounterLevel> ReadAsync(string key, long nowMs, CancellationToken cancellationToken);

    Task<long> AdjustAsync(string key, long delta, CancellationToken cancellationToken);

    // True exactly once per marker name across every replica sharing the store.
    Task<bool> MarkOnceAsync(string marker, CancellationToken cancellationToken);
}
