using Gateway.Common.Configuration;

namespace Gateway.Router.Routing;

// One deployment of a model as the selector sees it.
public readonly record struct Candidate(int Weight, DeploymentHealth Health);

// Orders one model's deployments for a request under a policy's strategy:
//   weighted        weighted-random order (the configured split)
//   lowest_latency  by p50 latency (time to first token for streams); no evidence yet ranks first, to learn
//   least_cost      by observed cost per request
//   score           weighted sum of normalised p95 latency, error rate and cost; lower is better
// Demoted deployments go after the healthy ones, except that one due for a probe goes first. Cooling-down
// deployments (429 until Retry-After) are left out. Allocation-free apart from the caller's buffers.
public static class DeploymentSelector
{
    // Writes the order into `order` (indices into `candidates`) and returns how many it holds.
    public static int Order(ReadOnlySpan<Candidate> candidates, Span<int> order, string policyName, RoutingPolicyConfig policy, bool stream, DateTimeOffset now, Random random)
    {
        Span<double> keys = candidates.Length <= 32 ? stackalloc double[candidates.Length] : new double[candidates.Length];
        Span<byte> tier = candidates.Length <= 32 ? stackalloc byte[candidates.Length] : new byte[candidates.Length];
        Span<HealthStats> window = candidates.Length <= 32 ? stackalloc HealthStats[candidates.Length] : new HealthStats[candidates.Length];
        var count = 0;
        double maxLatency = 0, maxCost = 0;
        for (var i = 0; i < candidates.Length; i++)
        {
            var health = candidates[i].Health;
            if (candidates[i].Weight <= 0 || health.CoolingDownUntil(now) is not null)
            {
                continue;
            }
            var stats = window[i] = health.Stats(now);
            tier[i] = Tier(health, stats, policyName, policy.Demotion, now);
            if (tier[i] == HealthyTier && policy.Demotion is not null)
            {
                // A deployment that just recovered starts from a fresh window.
                stats = window[i] = health.Stats(now);
            }
            maxLatency = Math.Max(maxLatency, Latency(stats, stream, p95: policy.Strategy == "score"));
            maxCost = Math.Max(maxCost, stats.CostPerRequestUsd);
            order[count++] = i;
        }
        for (var n = 0; n < count; n++)
        {
            var i = order[n];
            var stats = window[i];
            keys[i] = policy.Strategy switch
            {
                "lowest_latency" => Latency(stats, stream, p95: false) + random.NextDouble() * 1e-6,
                "least_cost" => stats.CostPerRequestUsd + random.NextDouble() * 1e-12,
                "score" => Score(stats, stream, policy.Weights, maxLatency, maxCost) + random.NextDouble() * 1e-9,
                // Efraimidis-Spirakis: sorting by -ln(u)/w gives a weighted-random order in one pass.
                _ => -Math.Log(1 - random.NextDouble()) / candidates[i].Weight,
            };
        }
        // Insertion sort by (tier, key): a handful of deployments per model.
        for (var a = 1; a < count; a++)
        {
            var item = order[a];
            var b = a - 1;
            while (b >= 0 && Before(item, order[b], tier, keys))
            {
                order[b + 1] = order[b];
                b--;
            }
            order[b + 1] = item;
        }
        if (count > 0 && tier[order[0]] == ProbeTier)
        {
            // The probe slot is taken until the next interval (a probe that never reports frees it then).
            var next = now + TimeSpan.FromSeconds(policy.Demotion!.ProbeIntervalSeconds);
            candidates[order[0]].Health.WithDemotion(policyName, next, static (state, at) =>
            {
                state.ProbeInFlight = true;
                state.NextProbeAt = at;
                return true;
            });
        }
        return count;
    }

    private const byte ProbeTier = 0;
    private const byte HealthyTier = 1;
    private const byte DemotedTier = 2;

    private static bool Before(int x, int y, Span<byte> tier, Span<double> keys)
        => tier[x] != tier[y] ? tier[x] < tier[y] : keys[x] < keys[y];

    private static double Latency(HealthStats stats, bool stream, bool p95)
        => stream && stats.TtftP50Ms > 0
            ? (p95 ? stats.TtftP95Ms : stats.TtftP50Ms)
            : (p95 ? stats.LatencyP95Ms : stats.LatencyP50Ms);

    private static double Score(HealthStats stats, bool stream, ScoreWeightsConfig weights, double maxLatency, double maxCost)
    {
        var latency = maxLatency > 0 ? Latency(stats, stream, p95: true) / maxLatency : 0;
        var cost = maxCost > 0 ? stats.CostPerRequestUsd / maxCost : 0;
        return weights.Latency * latency + weights.ErrorRate * stats.ErrorRate + weights.Cost * cost;
    }

    // Demote, probe, recover: evaluated as the deployment is considered for a request.
    private static byte Tier(DeploymentHealth health, HealthStats stats, string policyName, DemotionConfig? demotion, DateTimeOffset now)
    {
        if (demotion is null)
        {
            return HealthyTier;
        }
        return health.WithDemotion(policyName, (health, stats, demotion, now), static (state, a) =>
        {
            if (!state.Demoted)
            {
                var slow = a.demotion.P95LatencyMs is { } p95 && a.stats.LatencyP95Ms > p95;
                var failing = a.demotion.ErrorRate is { } rate && a.stats.ErrorRate > rate;
                if (a.stats.Samples < a.demotion.MinSamples || !(slow || failing))
                {
                    return HealthyTier;
                }
                state.Demoted = true;
                state.Since = a.now;
                state.NextProbeAt = a.now + TimeSpan.FromSeconds(a.demotion.ProbeIntervalSeconds);
                state.HealthyProbes = 0;
                state.ProbeInFlight = false;
                state.LatencyLimitMs = a.demotion.P95LatencyMs;
                return DemotedTier;
            }
            if (state.HealthyProbes >= a.demotion.RecoverAfter)
            {
                state.Demoted = false;
                state.HealthyProbes = 0;
                // Fresh evidence from here on; the samples that demoted it would demote it again.
                a.health.Reset();
                return HealthyTier;
            }
            return a.now >= state.NextProbeAt ? ProbeTier : DemotedTier;
        });
    }
}
