namespace Gateway.Router.Routing;

// What the window says about one deployment right now.
public readonly record struct HealthStats(
    int Samples,
    int Failures,
    double ErrorRate,
    double LatencyP50Ms,
    double LatencyP95Ms,
    double TtftP50Ms,
    double TtftP95Ms,
    double CostPerRequestUsd)
{
    public static readonly HealthStats Empty = new(0, 0, 0, 0, 0, 0, 0, 0);
}

// Demotion of one deployment under one policy (thresholds differ between policies).
public sealed class DemotionState
{
    public bool Demoted { get; set; }

    public DateTimeOffset Since { get; set; }

    public DateTimeOffset NextProbeAt { get; set; }

    public bool ProbeInFlight { get; set; }

    public int HealthyProbes { get; set; }

    public double? LatencyLimitMs { get; set; }
}

// The rolling evidence about one deployment (provider + upstream model): the last samples within the window,
// the time until which a 429 cooled it down, and its demotion state per policy. Thread-safe; statistics are
// recomputed only when a sample arrives or one ages out, so selection reads a cached value.
public sealed class DeploymentHealth(string provider, string upstreamModel, TimeSpan window)
{
    private const int Capacity = 512;
    private static readonly long RefreshTicks = TimeSpan.FromMilliseconds(250).Ticks;

    private readonly Lock _lock = new();
    private readonly Sample[] _samples = new Sample[Capacity];
    private readonly Dictionary<string, DemotionState> _demotions = new(StringComparer.Ordinal);
    private int _start;
    private int _count;
    private bool _dirty;
    private int _changesSinceCompute;
    private long _computedAtTicks;
    private HealthStats _stats = HealthStats.Empty;
    private long _cooldownUntilTicks;

    private readonly record struct Sample(long AtTicks, bool Failed, double LatencyMs, double TtftMs, double CostUsd);

    public string Provider { get; } = provider;

    public string UpstreamModel { get; } = upstreamModel;

    public string Key => DeploymentKey(Provider, UpstreamModel);

    public TimeSpan Window { get; set; } = window;

    public static string DeploymentKey(string provider, string upstreamModel) => provider + "/" + upstreamModel;

    public DateTimeOffset? CoolingDownUntil(DateTimeOffset now)
    {
        var ticks = Interlocked.Read(ref _cooldownUntilTicks);
        return ticks > now.UtcTicks ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;
    }

    public void CoolDown(DateTimeOffset until)
    {
        long current;
        do
        {
            current = Interlocked.Read(ref _cooldownUntilTicks);
            if (current >= until.UtcTicks)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _cooldownUntilTicks, until.UtcTicks, current) != current);
    }

    // One finished attempt. `ttftMs` is 0 for non-streaming calls; failures that are the client's own do not
    // belong here.
    public void Record(DateTimeOffset now, bool failed, double latencyMs, double ttftMs = 0, double costUsd = 0)
    {
        lock (_lock)
        {
            var index = (_start + _count) % Capacity;
            if (_count == Capacity)
            {
                _start = (_start + 1) % Capacity;
            }
            else
            {
                _count++;
            }
            _samples[index] = new Sample(now.UtcTicks, failed, latencyMs, ttftMs, costUsd);
            _dirty = true;
            _changesSinceCompute++;
            foreach (var state in _demotions.Values)
            {
                if (!state.ProbeInFlight)
                {
                    continue;
                }
                state.ProbeInFlight = false;
                var healthy = !failed && (state.LatencyLimitMs is not { } limit || latencyMs <= limit);
                state.HealthyProbes = healthy ? state.HealthyProbes + 1 : 0;
            }
        }
    }

    public HealthStats Stats(DateTimeOffset now)
    {
        lock (_lock)
        {
            var horizon = now.UtcTicks - Window.Ticks;
            while (_count > 0 && _samples[_start].AtTicks < horizon)
            {
                _start = (_start + 1) % Capacity;
                _count--;
                _dirty = true;
                _changesSinceCompute++;
            }
            // Sorting the window on every request cost more than the routing it informs: refresh once 1/16 of
            // the window has changed or 250 ms have passed, so the figures lag by at most that much.
            if (_dirty && (_changesSinceCompute * 16 >= _count || now.UtcTicks - _computedAtTicks >= RefreshTicks))
            {
                _stats = Compute();
                _dirty = false;
                _changesSinceCompute = 0;
                _computedAtTicks = now.UtcTicks;
            }
            return _stats;
        }
    }

    // Clears the window: a deployment that recovered starts again from fresh evidence.
    public void Reset()
    {
        lock (_lock)
        {
            _start = 0;
            _count = 0;
            _dirty = true;
            _computedAtTicks = 0;
        }
    }

    // Runs `update` on the demotion state of this deployment under `policy`, under the health lock.
    public T WithDemotion<TArg, T>(string policy, TArg argument, Func<DemotionState, TArg, T> update)
    {
        lock (_lock)
        {
            if (!_demotions.TryGetValue(policy, out var state))
            {
                _demotions[policy] = state = new DemotionState();
            }
            return update(state, argument);
        }
    }

    public IReadOnlyDictionary<string, DemotionState> Demotions()
    {
        lock (_lock)
        {
            return _demotions.ToDictionary(d => d.Key, d => new DemotionState
            {
                Demoted = d.Value.Demoted,
                Since = d.Value.Since,
                NextProbeAt = d.Value.NextProbeAt,
                ProbeInFlight = d.Value.ProbeInFlight,
                HealthyProbes = d.Value.HealthyProbes,
                LatencyLimitMs = d.Value.LatencyLimitMs,
            }, StringComparer.Ordinal);
        }
    }

    private HealthStats Compute()
    {
        if (_count == 0)
        {
            return HealthStats.Empty;
        }
        var latencies = new double[_count];
        var ttfts = new double[_count];
        int ok = 0, ttftCount = 0, failures = 0;
        double cost = 0;
        for (var i = 0; i < _count; i++)
        {
            var sample = _samples[(_start + i) % Capacity];
            if (sample.Failed)
            {
                failures++;
                continue;
            }
            latencies[ok++] = sample.LatencyMs;
            cost += sample.CostUsd;
            if (sample.TtftMs > 0)
            {
                ttfts[ttftCount++] = sample.TtftMs;
            }
        }
        Array.Sort(latencies, 0, ok);
        Array.Sort(ttfts, 0, ttftCount);
        return new HealthStats(
            _count,
            failures,
            (double)failures / _count,
            Percentile(latencies, ok, 0.50),
            Percentile(latencies, ok, 0.95),
            Percentile(ttfts, ttftCount, 0.50),
            Percentile(ttfts, ttftCount, 0.95),
            ok == 0 ? 0 : cost / ok);
    }

    // Nearest-rank percentile of the first `count` sorted values.
    private static double Percentile(double[] sorted, int count, double p)
        => count == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * count) - 1, 0, count - 1)];
}
