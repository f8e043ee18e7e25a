namespace Gateway.Budget.Store;

// Counters in this process: one lock makes check-and-apply atomic across every entry of a reservation.
// A check with three budgets is a few dictionary lookups, so contention stays negligible.
public sealed class InMemoryCounterStore : ICounterStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Counter> _counters = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Held> _reservations = new(StringComparer.Ordinal);
    private readonly HashSet<string> _markers = new(StringComparer.Ordinal);
    // Window counters and expired reservation records, oldest first, dropped once they can matter no more.
    private readonly Queue<(string Key, long Until)> _windows = new();
    private readonly Queue<(string Id, long Until)> _expired = new();

    // How long the record of a reservation whose lease ran out is kept for a late settle.
    private const long LateSettleMilliseconds = 86_400_000;

    public Task SeedAsync(string key, long committed, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _counters.TryAdd(key, new Counter { Committed = committed });
        }
        return Task.CompletedTask;
    }

    public Task<ReserveResult> ReserveAsync(string reservationId, CounterEntry[] entries, long nowMs, long leaseUntilMs, CancellationToken cancellationToken)
        => Task.FromResult(Reserve(reservationId, entries, nowMs, leaseUntilMs));

    public ReserveResult Reserve(string reservationId, CounterEntry[] entries, long nowMs, long leaseUntilMs)
    {
        var levels = new long[entries.Length];
        lock (_lock)
        {
            Sweep(nowMs);
            var counters = new Counter[entries.Length];
            for (var i = 0; i < entries.Length; i++)
            {
                var entry = entries[i];
                var counter = CounterFor(entry, nowMs);
                counters[i] = counter;
                levels[i] = counter.Committed + counter.Held;
                if (entry.Limit >= 0 && levels[i] + entry.Amount > entry.Limit)
                {
                    return new ReserveResult(i, levels);
                }
            }
            var holds = new List<(string Key, long Amount, CounterKind Kind)>(entries.Length);
            for (var i = 0; i < entries.Length; i++)
            {
                var entry = entries[i];
                var counter = counters[i];
                if (entry.Kind == CounterKind.Window)
                {
                    counter.Committed += entry.Amount;
                }
                else
                {
                    counter.Held += entry.Amount;
                    counter.Holds[reservationId] = (entry.Amount, leaseUntilMs);
                    counter.NextExpiry = Math.Min(counter.NextExpiry, leaseUntilMs);
                    holds.Add((entry.Key, entry.Amount, entry.Kind));
                }
                levels[i] += entry.Amount;
            }
            _reservations[reservationId] = new Held(holds, leaseUntilMs);
        }
        return new ReserveResult(-1, levels);
    }

    public Task<IReadOnlyList<Settled>> SettleAsync(string reservationId, long cost, long nowMs, CancellationToken cancellationToken)
        => Task.FromResult(Settle(reservationId, cost));

    public IReadOnlyList<Settled> Settle(string reservationId, long cost)
    {
        lock (_lock)
        {
            if (!_reservations.Remove(reservationId, out var held))
            {
                return [];
            }
            var settled = new List<Settled>(held.Entries.Count);
            foreach (var (key, _, kind) in held.Entries)
            {
                if (!_counters.TryGetValue(key, out var counter))
                {
                    continue;
                }
                if (counter.Holds.Remove(reservationId, out var hold))
                {
                    counter.Held -= hold.Amount;
                }
                if (kind == CounterKind.Budget)
                {
                    counter.Committed += cost;
                    settled.Add(new Settled(key, counter.Committed));
                }
            }
            return settled;
        }
    }

    public Task<CounterLevel> ReadAsync(string key, long nowMs, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_counters.TryGetValue(key, out var counter))
            {
                return Task.FromResult(default(CounterLevel));
            }
            Expire(counter, nowMs);
            return Task.FromResult(new CounterLevel(counter.Committed, counter.Held));
        }
    }

    public Task<long> AdjustAsync(string key, long delta, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_counters.TryGetValue(key, out var counter))
            {
                counter = new Counter();
                _counters[key] = counter;
            }
            counter.Committed += delta;
            return Task.FromResult(counter.Committed);
        }
    }

    public Task<bool> MarkOnceAsync(string marker, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_markers.Add(marker));
        }
    }

    private Counter CounterFor(CounterEntry entry, long nowMs)
    {
        if (!_counters.TryGetValue(entry.Key, out var counter) || (counter.WindowEnd > 0 && nowMs >= counter.WindowEnd))
        {
            counter = new Counter { WindowEnd = entry.Kind == CounterKind.Window ? nowMs + entry.WindowMilliseconds : 0 };
            _counters[entry.Key] = counter;
            if (counter.WindowEnd > 0)
            {
                _windows.Enqueue((entry.Key, counter.WindowEnd));
            }
            return counter;
        }
        Expire(counter, nowMs);
        return counter;
    }

    private void Sweep(long nowMs)
    {
        while (_windows.TryPeek(out var window) && window.Until <= nowMs)
        {
            _windows.Dequeue();
            if (_counters.TryGetValue(window.Key, out var counter) && counter.WindowEnd == window.Until)
            {
                _counters.Remove(window.Key);
            }
        }
        while (_expired.TryPeek(out var record) && record.Until <= nowMs)
        {
            _expired.Dequeue();
            _reservations.Remove(record.Id);
        }
    }

    // Frees holds whose lease ran out: the request that took them crashed or vanished.
    private void Expire(Counter counter, long nowMs)
    {
        if (nowMs < counter.NextExpiry)
        {
            return;
        }
        var next = long.MaxValue;
        List<string>? expired = null;
        foreach (var (id, hold) in counter.Holds)
        {
            if (hold.LeaseUntil <= nowMs)
            {
                (expired ??= []).Add(id);
            }
            else
            {
                next = Math.Min(next, hold.LeaseUntil);
            }
        }
        foreach (var id in expired ?? [])
        {
            counter.Held -= counter.Holds[id].Amount;
            counter.Holds.Remove(id);
            if (_reservations.TryGetValue(id, out var held) && held.LeaseUntil <= nowMs)
            {
                // Keep the record only for budgets: a late settle still commits what was spent.
                _reservations[id] = held with { Entries = held.Entries.Where(e => e.Kind == CounterKind.Budget).ToList(), LeaseUntil = long.MaxValue };
                _expired.Enqueue((id, nowMs + LateSettleMilliseconds));
            }
        }
        counter.NextExpiry = next;
    }

    private sealed class Counter
    {
        public long Committed;
        public long Held;
        public long WindowEnd;
        public long NextExpiry = long.MaxValue;
        public readonly Dictionary<string, (long Amount, long LeaseUntil)> Holds = new(StringComparer.Ordinal);
    }

    private sealed record Held(List<(string Key, long Amount, CounterKind Kind)> Entries, long LeaseUntil);
}
