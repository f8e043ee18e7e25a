namespace Gateway.Common.Configuration;

// `routing` and the routing keys of `models`: every policy named anywhere exists, numbers are in range, and
// fallbacks name configured models.
internal sealed partial class ConfigValidator
{
    public static readonly IReadOnlyList<string> Strategies = ["weighted", "lowest_latency", "least_cost", "score"];

    private void ValidateRouting()
    {
        var routing = config.Routing;
        foreach (var (name, policy) in routing.Policies)
        {
            ValidatePolicy($"routing.policies.{name}", name, policy);
        }
        for (var i = 0; i < routing.Assign.Count; i++)
        {
            var entry = routing.Assign[i];
            var path = $"routing.assign[{i}]";
            PolicyReference($"{path}.policy", entry.Policy, required: true);
            if (entry.Scope.Model is { } model && !config.Models.ContainsKey(model))
            {
                Error($"{path}.scope.model", $"unknown model {Show($"{path}.scope.model", model)}; use one of: {List(config.Models.Keys)}");
            }
            if (entry.Scope.Key is { } key && !config.Keys.Any(k => k.Name == key))
            {
                Error($"{path}.scope.key", $"no key is named {Show($"{path}.scope.key", key)}; use one of: {List(config.Keys.Select(k => k.Name))}");
            }
        }
        if (routing.Health.WindowSeconds is < 5 or > 3600)
        {
            Error("routing.health.window_seconds", "must be between 5 and 3600 seconds (default 60)");
        }
        foreach (var (name, model) in config.Models)
        {
            if (model.Policy is { } policy)
            {
                PolicyReference($"models.{name}.policy", policy, required: false);
            }
            if (model.ContextWindow is <= 0)
            {
                Error($"models.{name}.context_window", "must be a positive number of tokens, e.g. 128000, or left out when unknown");
            }
        }
    }

    private void PolicyReference(string path, string policy, bool required)
    {
        if (policy.Length == 0 && required)
        {
            Error(path, $"missing; name one of the policies under routing.policies: {List(config.Routing.Policies.Keys)}");
        }
        else if (policy.Length > 0 && !config.Routing.Policies.ContainsKey(policy))
        {
            Error(path, $"unknown policy {Show(path, policy)}; use one of: {List(config.Routing.Policies.Keys)}, or add it under routing.policies");
        }
    }

    private void ValidatePolicy(string path, string name, RoutingPolicyConfig policy)
    {
        if (!ConfigNames.IsName(name))
        {
            Error(path, $"'{name}' is not a valid policy name; use {ConfigNames.NameRule}");
        }
        if (!Strategies.Contains(policy.Strategy))
        {
            Error($"{path}.strategy", $"unknown strategy {Show($"{path}.strategy", policy.Strategy)}; use one of: {string.Join(", ", Strategies)}");
        }
        var triggers = policy.Triggers;
        Range($"{path}.triggers.rate_limit_cooldown_ms", triggers.RateLimitCooldownMs, 0, 3_600_000, "milliseconds (default 5000)");
        Range($"{path}.triggers.timeout_ms", triggers.TimeoutMs, 1, 3_600_000, "milliseconds, or leave it out to use the provider's timeout_seconds");
        Range($"{path}.triggers.ttft_timeout_ms", triggers.TtftTimeoutMs, 1, 3_600_000, "milliseconds, or leave it out for no time-to-first-token limit");
        Range($"{path}.triggers.idle_timeout_ms", triggers.IdleTimeoutMs, 1, 3_600_000, "milliseconds, or leave it out for no limit between chunks");

        var retry = policy.Retry;
        Range($"{path}.retry.max_attempts", retry.MaxAttempts, 0, 10, "retries per deployment (0 = fail over at once)");
        Range($"{path}.retry.base_delay_ms", retry.BaseDelayMs, 1, 60_000, "milliseconds (default 200)");
        Range($"{path}.retry.max_delay_ms", retry.MaxDelayMs, 1, 300_000, "milliseconds (default 2000)");
        if (retry.MaxDelayMs < retry.BaseDelayMs)
        {
            Error($"{path}.retry.max_delay_ms", "must not be less than base_delay_ms");
        }

        var breaker = policy.CircuitBreaker;
        if (breaker.FailureRatio is <= 0 or > 1)
        {
            Error($"{path}.circuit_breaker.failure_ratio", "must be more than 0 and at most 1, e.g. 0.5 opens the circuit when half the calls fail");
        }
        Range($"{path}.circuit_breaker.minimum_throughput", breaker.MinimumThroughput, 2, 100_000, "calls in the sampling window before the ratio counts (default 10)");
        Range($"{path}.circuit_breaker.sampling_seconds", breaker.SamplingSeconds, 1, 3600, "seconds (default 30)");
        Range($"{path}.circuit_breaker.break_seconds", breaker.BreakSeconds, 1, 86_400, "seconds the circuit stays open before a probe (default 30)");

        if (policy.Hedging is { } hedging)
        {
            Range($"{path}.hedging.delay_ms", hedging.DelayMs, 1, 600_000, "milliseconds to wait before asking a second deployment");
        }

        var weights = policy.Weights;
        if (weights.Latency < 0 || weights.ErrorRate < 0 || weights.Cost < 0)
        {
            Error($"{path}.weights", "latency, error_rate and cost must not be negative");
        }
        else if (policy.Strategy == "score" && weights.Latency + weights.ErrorRate + weights.Cost <= 0)
        {
            Error($"{path}.weights", "strategy score needs at least one positive weight among latency, error_rate and cost");
        }

        if (policy.Demotion is { } demotion)
        {
            if (demotion.P95LatencyMs is null && demotion.ErrorRate is null)
            {
                Error($"{path}.demotion", "set p95_latency_ms, error_rate or both; otherwise nothing can demote a deployment");
            }
            if (demotion.P95LatencyMs is <= 0)
            {
                Error($"{path}.demotion.p95_latency_ms", "must be more than 0 milliseconds");
            }
            if (demotion.ErrorRate is <= 0 or > 1)
            {
                Error($"{path}.demotion.error_rate", "must be more than 0 and at most 1, e.g. 0.2 for 20 %");
            }
            Range($"{path}.demotion.min_samples", demotion.MinSamples, 1, 100_000, "requests in the window before a deployment can be demoted (default 20)");
            Range($"{path}.demotion.probe_interval_seconds", demotion.ProbeIntervalSeconds, 1, 86_400, "seconds between probe requests to a demoted deployment (default 30)");
            Range($"{path}.demotion.recover_after", demotion.RecoverAfter, 1, 1000, "healthy probes before a deployment is trusted again (default 1)");
        }

        if (policy.Fallbacks is { } fallbacks)
        {
            for (var i = 0; i < fallbacks.Count; i++)
            {
                if (!config.Models.ContainsKey(fallbacks[i]))
                {
                    Error($"{path}.fallbacks[{i}]", $"unknown model {Show($"{path}.fallbacks[{i}]", fallbacks[i])}; use one of: {List(config.Models.Keys)}");
                }
            }
        }
    }

    private void Range(string path, int? value, int minimum, int maximum, string unit)
    {
        if (value is { } v && (v < minimum || v > maximum))
        {
            Error(path, $"must be between {minimum} and {maximum} {unit}");
        }
    }
}
