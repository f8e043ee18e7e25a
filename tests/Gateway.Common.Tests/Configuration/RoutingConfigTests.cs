using Gateway.Common.Configuration;
using static Gateway.Common.Tests.Configuration.ConfigAssert;

namespace Gateway.Common.Tests.Configuration;

// `routing`: policies, assignment per key/team, and their validation with key paths.
public sealed class RoutingConfigTests
{
    private const string Models = """
        providers:
          openai: { kind: openai, base_url: https://api.openai.com/v1 }
          anthropic: { kind: anthropic, base_url: https://api.anthropic.com }
        models:
          gpt-4o:
            targets: [{ provider: openai, model: gpt-4o }]
            fallbacks: [claude-sonnet-4]
            policy: quality
            context_window: 128000
          gpt-4o-mini:
            targets: [{ provider: openai, model: gpt-4o-mini }]
          claude-sonnet-4:
            targets: [{ provider: anthropic, model: claude-sonnet-4-20250514 }]
            context_window: 200000
        keys:
          - { name: batch, key: "batch-key-0123456789abcdef", team: batch }
        """;

    private const string Policies = """

        routing:
          policies:
            quality:
              triggers: { rate_limit: true, server_error: true, timeout_ms: 30000, ttft_timeout_ms: 5000, idle_timeout_ms: 10000, content_policy: true }
              retry: { max_attempts: 2, base_delay_ms: 200, max_delay_ms: 2000 }
              circuit_breaker: { failure_ratio: 0.5, minimum_throughput: 10, sampling_seconds: 30, break_seconds: 30 }
              hedging: { delay_ms: 2000 }
              strategy: score
              weights: { latency: 1, error_rate: 2, cost: 0.5 }
              demotion: { p95_latency_ms: 8000, error_rate: 0.2, min_samples: 20, probe_interval_seconds: 30 }
            cheap:
              strategy: least_cost
              fallbacks: [gpt-4o-mini]
          assign:
            - { scope: { team: batch }, policy: cheap }
        """;

    [Fact]
    public void Parse_PoliciesAndAssignments_Bind()
    {
        var config = ConfigLoader.Parse(Models + Policies, NoEnvironment);

        var quality = config.Routing.Policies["quality"];
        Assert.Equal("quality", config.Models["gpt-4o"].Policy);
        Assert.Equal(128000, config.Models["gpt-4o"].ContextWindow);
        Assert.Equal(30000, quality.Triggers.TimeoutMs);
        Assert.Equal(5000, quality.Triggers.TtftTimeoutMs);
        Assert.True(quality.Triggers.ContentPolicy);
        Assert.Equal(2, quality.Retry.MaxAttempts);
        Assert.Equal(2000, quality.Hedging!.DelayMs);
        Assert.Equal(2, quality.Weights.ErrorRate);
        Assert.Equal(8000, quality.Demotion!.P95LatencyMs);
        Assert.Equal(["gpt-4o-mini"], config.Routing.Policies["cheap"].Fallbacks!);
        Assert.Equal("batch", config.Routing.Assign[0].Scope.Team);
    }

    // The examples in docs/configuration.md are valid as written.
    [Fact]
    public void Parse_DocumentedExamples_AreValid()
    {
        var docs = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "configuration.md"));
        var section = docs[docs.IndexOf("## `routing`", StringComparison.Ordinal)..docs.IndexOf("## `keys`", StringComparison.Ordinal)];
        var examples = section.Split("```yaml\n").Skip(1).Select(block => block[..block.IndexOf("```", StringComparison.Ordinal)]).ToList();
        Assert.Equal(2, examples.Count);
        const string Providers = """
            providers:
              openai: { kind: openai, base_url: https://api.openai.com/v1 }
              azure: { kind: azure-openai, base_url: https://acme.openai.azure.com, api_version: "2024-10-21" }
              anthropic: { kind: anthropic, base_url: https://api.anthropic.com }

            """;

        var quality = ConfigLoader.Parse(Providers + examples[0], NoEnvironment);
        var fastest = ConfigLoader.Parse(Providers + "models:\n  gpt-4o:\n    targets: [{ provider: openai, model: gpt-4o }]\n" + examples[1], NoEnvironment);

        Assert.Equal(["gpt-4o-mini"], quality.Routing.Policies["cost"].Fallbacks!);
        Assert.Equal("lowest_latency", fastest.Routing.Policies["fastest"].Strategy);
    }

    [Fact]
    public void Parse_NoRouting_DefaultsFailOverOnUpstreamFaultsOnly()
    {
        var config = ConfigLoader.Parse(Models.Replace("    policy: quality\n", ""), NoEnvironment);

        var policy = RoutingPolicyConfig.Default;
        Assert.Empty(config.Routing.Policies);
        Assert.True(policy.Triggers.RateLimit && policy.Triggers.ServerError && policy.Triggers.Connection && policy.Triggers.Timeout && policy.Triggers.ContextLength);
        Assert.False(policy.Triggers.ContentPolicy);
        Assert.Equal("weighted", policy.Strategy);
        Assert.Equal(0, policy.Retry.MaxAttempts);
    }

    [Fact]
    public void Parse_ModelNamesUnknownPolicy_SaysWhichExist()
        => Single(Models + "\nrouting:\n  policies:\n    cheap: { strategy: least_cost }\n", "models.gpt-4o.policy",
            "unknown policy 'quality'; use one of: cheap, or add it under routing.policies");

    [Fact]
    public void Parse_AssignUnknownPolicy_IsAnError()
        => Single(Models + Policies.Replace("policy: cheap }", "policy: cheapest }"), "routing.assign[0].policy",
            "unknown policy 'cheapest'; use one of: quality, cheap");

    [Fact]
    public void Parse_AssignUnknownKey_IsAnError()
        => Single(Models + Policies.Replace("{ team: batch }", "{ key: nightly }"), "routing.assign[0].scope.key",
            "no key is named 'nightly'; use one of: batch");

    [Fact]
    public void Parse_UnknownStrategy_ListsTheStrategies()
        => Single(Models + Policies.Replace("strategy: least_cost", "strategy: cheapest"), "routing.policies.cheap.strategy",
            "unknown strategy 'cheapest'; use one of: weighted, lowest_latency, least_cost, score");

    [Theory]
    [InlineData("failure_ratio: 0.5", "failure_ratio: 1.5", "routing.policies.quality.circuit_breaker.failure_ratio", "must be more than 0 and at most 1")]
    [InlineData("minimum_throughput: 10", "minimum_throughput: 1", "routing.policies.quality.circuit_breaker.minimum_throughput", "must be between 2 and 100000")]
    [InlineData("max_attempts: 2", "max_attempts: 50", "routing.policies.quality.retry.max_attempts", "must be between 0 and 10")]
    [InlineData("ttft_timeout_ms: 5000", "ttft_timeout_ms: 0", "routing.policies.quality.triggers.ttft_timeout_ms", "must be between 1 and 3600000")]
    [InlineData("hedging: { delay_ms: 2000 }", "hedging: { delay_ms: -1 }", "routing.policies.quality.hedging.delay_ms", "must be between 1 and 600000")]
    [InlineData("error_rate: 0.2, min", "error_rate: 2, min", "routing.policies.quality.demotion.error_rate", "must be more than 0 and at most 1")]
    [InlineData("fallbacks: [gpt-4o-mini]", "fallbacks: [gpt-5-nano]", "routing.policies.cheap.fallbacks[0]", "unknown model 'gpt-5-nano'")]
    [InlineData("context_window: 128000", "context_window: 0", "models.gpt-4o.context_window", "must be a positive number of tokens")]
    public void Parse_OutOfRange_NamesTheKeyPath(string good, string bad, string path, string message)
        => Single((Models + Policies).Replace(good, bad), path, message);

    [Fact]
    public void Parse_RetryMaxBelowBase_IsAnError()
        => Single(Models + Policies.Replace("max_delay_ms: 2000", "max_delay_ms: 100"), "routing.policies.quality.retry.max_delay_ms",
            "must not be less than base_delay_ms");

    [Fact]
    public void Parse_TypoInPolicyKey_SuggestsTheKey()
        => Single(Models + Policies.Replace("hedging:", "hedgeing:"), "routing.policies.quality.hedgeing", "unknown key; did you mean 'hedging'?");
}
