using Gateway.Common.Configuration;
using Gateway.Router.Routing;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Router.Tests.Routing;

// The selector over live health: weighted split, strategies, cool-down, demote → probe → recover.
public sealed class RoutingSelectorTests
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(60);

    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1_760_000_000));

    private static DeploymentHealth Health(string name, TimeSpan? window = null) => new("p", name, window ?? Window);

    private int[] Order(Candidate[] candidates, RoutingPolicyConfig policy, Random? random = null, bool stream = false, string policyName = "test")
    {
        var order = new int[candidates.Length];
        var count = DeploymentSelector.Order(candidates, order, policyName, policy, stream, _time.GetUtcNow(), random ?? new Random(7));
        return order[..count];
    }

    [Fact]
    public void Order_Weighted_FirstPickFollowsTheWeightsWithinTolerance()
    {
        Candidate[] candidates = [new(70, Health("a")), new(20, Health("b")), new(10, Health("c")), new(0, Health("off"))];
        var random = new Random(42);
        var first = new int[candidates.Length];
        const int Requests = 20_000;

        for (var i = 0; i < Requests; i++)
        {
            var order = Order(candidates, RoutingPolicyConfig.Default, random);
            Assert.Equal(3, order.Length);
            first[order[0]]++;
        }

        Assert.InRange(first[0] / (double)Requests, 0.68, 0.72);
        Assert.InRange(first[1] / (double)Requests, 0.18, 0.22);
        Assert.InRange(first[2] / (double)Requests, 0.08, 0.12);
        Assert.Equal(0, first[3]);
    }

    [Fact]
    public void Order_LowestLatency_FastestFirst()
    {
        var slow = Health("slow");
        var fast = Health("fast");
        for (var i = 0; i < 5; i++)
        {
            slow.Record(_time.GetUtcNow(), failed: false, latencyMs: 900);
            fast.Record(_time.GetUtcNow(), failed: false, latencyMs: 100);
        }

        var order = Order([new(1, slow), new(1, fast)], new RoutingPolicyConfig { Strategy = "lowest_latency" });

        Assert.Equal([1, 0], order);
    }

    [Fact]
    public void Order_LowestLatencyStream_RanksByTimeToFirstToken()
    {
        var a = Health("a");
        var b = Health("b");
        a.Record(_time.GetUtcNow(), failed: false, latencyMs: 500, ttftMs: 300);
        b.Record(_time.GetUtcNow(), failed: false, latencyMs: 2000, ttftMs: 50);

        Assert.Equal([1, 0], Order([new(1, a), new(1, b)], new RoutingPolicyConfig { Strategy = "lowest_latency" }, stream: true));
        Assert.Equal([0, 1], Order([new(1, a), new(1, b)], new RoutingPolicyConfig { Strategy = "lowest_latency" }, stream: false));
    }

    [Fact]
    public void Order_LeastCost_CheapestFirst()
    {
        var dear = Health("dear");
        var cheap = Health("cheap");
        dear.Record(_time.GetUtcNow(), failed: false, latencyMs: 100, costUsd: 0.02);
        cheap.Record(_time.GetUtcNow(), failed: false, latencyMs: 900, costUsd: 0.001);

        Assert.Equal([1, 0], Order([new(1, dear), new(1, cheap)], new RoutingPolicyConfig { Strategy = "least_cost" }));
    }

    [Fact]
    public void Order_Score_ErrorProneDeploymentRanksLast()
    {
        var flaky = Health("flaky");
        var steady = Health("steady");
        for (var i = 0; i < 10; i++)
        {
            flaky.Record(_time.GetUtcNow(), failed: i % 2 == 0, latencyMs: 100);
            steady.Record(_time.GetUtcNow(), failed: false, latencyMs: 150);
        }
        var policy = new RoutingPolicyConfig { Strategy = "score", Weights = new ScoreWeightsConfig { Latency = 0.2, ErrorRate = 1 } };

        Assert.Equal([1, 0], Order([new(1, flaky), new(1, steady)], policy));
    }

    [Fact]
    public void Order_CoolingDown_LeftOutUntilRetryAfterPasses()
    {
        var limited = Health("limited");
        var other = Health("other");
        limited.CoolDown(_time.GetUtcNow().AddSeconds(30));

        Assert.Equal([1], Order([new(1000, limited), new(1, other)], RoutingPolicyConfig.Default));

        _time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(2, Order([new(1000, limited), new(1, other)], RoutingPolicyConfig.Default).Length);
    }

    [Fact]
    public void Health_WindowAgesOut_OldSamplesNoLongerCount()
    {
        var health = Health("a");
        health.Record(_time.GetUtcNow(), failed: true, latencyMs: 10);
        Assert.Equal(1.0, health.Stats(_time.GetUtcNow()).ErrorRate);

        _time.Advance(TimeSpan.FromSeconds(61));
        health.Record(_time.GetUtcNow(), failed: false, latencyMs: 10);

        var stats = health.Stats(_time.GetUtcNow());
        Assert.Equal(1, stats.Samples);
        Assert.Equal(0.0, stats.ErrorRate);
    }

    [Fact]
    public void Health_UnderSteadyTraffic_FiguresLagBySixteenthOfWindowOr250Ms()
    {
        var health = Health("a");
        for (var i = 0; i < 320; i++)
        {
            health.Record(_time.GetUtcNow(), failed: false, latencyMs: 10);
        }
        Assert.Equal(0.0, health.Stats(_time.GetUtcNow()).ErrorRate);

        // 10 new failures are under 1/16 of 330 samples: the last figures still stand...
        for (var i = 0; i < 10; i++)
        {
            health.Record(_time.GetUtcNow(), failed: true, latencyMs: 10);
        }
        Assert.Equal(0.0, health.Stats(_time.GetUtcNow()).ErrorRate);

        // ...until 250 ms have passed,
        _time.Advance(TimeSpan.FromMilliseconds(250));
        Assert.Equal(10.0 / 330, health.Stats(_time.GetUtcNow()).ErrorRate, 9);

        // or 1/16 of the window has changed.
        for (var i = 0; i < 22; i++)
        {
            health.Record(_time.GetUtcNow(), failed: true, latencyMs: 10);
        }
        Assert.Equal(32.0 / 352, health.Stats(_time.GetUtcNow()).ErrorRate, 9);
    }

    [Fact]
    public void Health_Percentiles_NearestRank()
    {
        var health = Health("a");
        for (var i = 1; i <= 100; i++)
        {
            health.Record(_time.GetUtcNow(), failed: false, latencyMs: i);
        }

        var stats = health.Stats(_time.GetUtcNow());
        Assert.Equal(50, stats.LatencyP50Ms);
        Assert.Equal(95, stats.LatencyP95Ms);
    }

    [Fact]
    public void Order_DemotedSlowDeployment_StopsLeadingThenProbedAndRecovers()
    {
        var slow = Health("slow", TimeSpan.FromMinutes(10));
        var fast = Health("fast", TimeSpan.FromMinutes(10));
        var policy = new RoutingPolicyConfig
        {
            Strategy = "lowest_latency",
            Demotion = new DemotionConfig { P95LatencyMs = 1000, MinSamples = 5, ProbeIntervalSeconds = 30, RecoverAfter = 1 },
        };
        // Until now the "slow" one was the fastest: it leads.
        for (var i = 0; i < 5; i++)
        {
            slow.Record(_time.GetUtcNow(), failed: false, latencyMs: 50);
            fast.Record(_time.GetUtcNow(), failed: false, latencyMs: 100);
        }
        Assert.Equal(0, Order([new(1, slow), new(1, fast)], policy)[0]);

        // It turns slow: p95 above 1000 ms demotes it behind the healthy one.
        for (var i = 0; i < 20; i++)
        {
            slow.Record(_time.GetUtcNow(), failed: false, latencyMs: 5000);
        }
        for (var i = 0; i < 10; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(2));
            Assert.Equal([1, 0], Order([new(1, slow), new(1, fast)], policy));
        }
        Assert.True(slow.Demotions()["test"].Demoted);

        // At the probe interval it gets exactly one probe request; it is still slow, so it stays demoted.
        _time.Advance(TimeSpan.FromSeconds(13));
        Assert.Equal([0, 1], Order([new(1, slow), new(1, fast)], policy));
        Assert.Equal([1, 0], Order([new(1, slow), new(1, fast)], policy));
        slow.Record(_time.GetUtcNow(), failed: false, latencyMs: 4000);
        Assert.Equal([1, 0], Order([new(1, slow), new(1, fast)], policy));

        // The next probe is fast: it recovers with a fresh window and leads again on its latency.
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal([0, 1], Order([new(1, slow), new(1, fast)], policy));
        slow.Record(_time.GetUtcNow(), failed: false, latencyMs: 40);
        Assert.Equal([0, 1], Order([new(1, slow), new(1, fast)], policy));
        Assert.False(slow.Demotions()["test"].Demoted);
        Assert.Equal(0, slow.Stats(_time.GetUtcNow()).Samples);
    }

    [Fact]
    public void Order_ErrorRateOverLimit_Demotes()
    {
        var failing = Health("failing");
        var other = Health("other");
        for (var i = 0; i < 10; i++)
        {
            failing.Record(_time.GetUtcNow(), failed: i < 5, latencyMs: 10);
        }
        var policy = new RoutingPolicyConfig { Demotion = new DemotionConfig { ErrorRate = 0.3, MinSamples = 10 } };

        for (var i = 0; i < 50; i++)
        {
            Assert.Equal([1, 0], Order([new(1000, failing), new(1, other)], policy, new Random(i)));
        }
    }
}
