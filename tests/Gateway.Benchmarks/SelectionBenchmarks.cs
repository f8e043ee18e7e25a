using BenchmarkDotNet.Attributes;
using Gateway.Common.Configuration;
using Gateway.Router.Routing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Benchmarks;

// The routing decision for one request over 10 deployments: ordering by strategy over live health windows
// (DeploymentSelector), and the whole plan (policy resolution + ordering + targets) as the pipeline runs it.
[MemoryDiagnoser]
public class SelectionBenchmarks
{
    private const int Deployments = 10;

    private readonly Candidate[] _candidates = new Candidate[Deployments];
    private readonly int[] _order = new int[Deployments];
    private readonly Random _random = new(42);
    private readonly TimeProvider _time = TimeProvider.System;
    private RoutingPolicyConfig _weighted = null!;
    private RoutingPolicyConfig _latency = null!;
    private RoutingPolicyConfig _score = null!;
    private RoutingPolicyConfig _demotion = null!;
    private RoutePlanner _planner = null!;

    [GlobalSetup]
    public void Setup()
    {
        var now = _time.GetUtcNow();
        for (var i = 0; i < Deployments; i++)
        {
            var health = new DeploymentHealth($"provider{i}", $"model{i}", TimeSpan.FromSeconds(60));
            for (var s = 0; s < 200; s++)
            {
                health.Record(now, failed: s % (i + 3) == 0, latencyMs: 100 + i * 10 + s % 50, ttftMs: 20 + i, costUsd: 0.001 * (i + 1));
            }
            _candidates[i] = new Candidate(i + 1, health);
        }
        _weighted = RoutingPolicyConfig.Default;
        _latency = new RoutingPolicyConfig { Strategy = "lowest_latency" };
        _score = new RoutingPolicyConfig { Strategy = "score", Weights = new ScoreWeightsConfig { Latency = 1, ErrorRate = 2, Cost = 0.5 } };
        _demotion = new RoutingPolicyConfig { Strategy = "score", Demotion = new DemotionConfig { P95LatencyMs = 10_000, ErrorRate = 0.9 } };

        var targets = string.Join("\n", Enumerable.Range(0, Deployments).Select(i => $"      - {{ provider: p{i}, model: m{i}, weight: {i + 1} }}"));
        var providers = string.Join("\n", Enumerable.Range(0, Deployments).Select(i => $"  p{i}: {{ kind: openai, base_url: http://127.0.0.1:{9000 + i}/v1 }}"));
        var config = ConfigLoader.Parse($"providers:\n{providers}\nmodels:\n  main:\n    targets:\n{targets}\n", _ => null);
        _planner = new RoutePlanner(new ConfigMonitor(config, null, NullLogger<ConfigMonitor>.Instance), new RoutingState(_time));
    }

    [Benchmark(Baseline = true)]
    public int Weighted() => DeploymentSelector.Order(_candidates, _order, "b", _weighted, stream: false, _time.GetUtcNow(), _random);

    [Benchmark]
    public int LowestLatency() => DeploymentSelector.Order(_candidates, _order, "b", _latency, stream: false, _time.GetUtcNow(), _random);

    [Benchmark]
    public int Score() => DeploymentSelector.Order(_candidates, _order, "b", _score, stream: false, _time.GetUtcNow(), _random);

    [Benchmark]
    public int ScoreWithDemotion() => DeploymentSelector.Order(_candidates, _order, "b", _demotion, stream: false, _time.GetUtcNow(), _random);

    [Benchmark]
    public int PlanRoute() => _planner.PlanRoute("main", null, stream: false).Steps.Count;
}
