namespace Gateway.Common.Configuration;

// `routing`: named policies that decide how a request fails over, retries, hedges and picks among a model's
// deployments, and which policy applies to which key, team or model (docs/configuration.md, "routing").
public sealed record RoutingConfig
{
    public Dictionary<string, RoutingPolicyConfig> Policies { get; init; } = new(StringComparer.Ordinal);

    // First match wins; a request no entry matches uses its model's `policy`, else the built-in default.
    public List<PolicyAssignmentConfig> Assign { get; init; } = [];

    // The rolling window of evidence kept per deployment (provider + upstream model).
    public HealthWindowConfig Health { get; init; } = new();
}

public sealed record PolicyAssignmentConfig
{
    public PolicyScopeConfig Scope { get; init; } = new();
    public string Policy { get; init; } = "";
}

// Every field that is set must match; an empty scope matches every request.
public sealed record PolicyScopeConfig
{
    public string? Key { get; init; }
    public string? Team { get; init; }
    public string? Project { get; init; }
    public string? Environment { get; init; }
    public string? Model { get; init; }
}

public sealed record HealthWindowConfig
{
    public int WindowSeconds { get; init; } = 60;
}

public sealed record RoutingPolicyConfig
{
    // The built-in policy: fail over on every upstream fault, no retries, a circuit breaker, weighted order.
    public static readonly RoutingPolicyConfig Default = new();

    public TriggersConfig Triggers { get; init; } = new();
    public RetryConfig Retry { get; init; } = new();
    public CircuitBreakerConfig CircuitBreaker { get; init; } = new();
    public HedgingConfig? Hedging { get; init; }

    // weighted | lowest_latency | least_cost | score
    public string Strategy { get; init; } = "weighted";
    public ScoreWeightsConfig Weights { get; init; } = new();
    public DemotionConfig? Demotion { get; init; }

    // Replaces the model's own fallbacks on requests this policy routes (quality path vs cost path).
    public List<string>? Fallbacks { get; init; }
}

// Which failures move a request on to the next deployment or model. A client's own 4xx never does.
public sealed record TriggersConfig
{
    public bool RateLimit { get; init; } = true;
    // With no Retry-After from the provider, a 429 cools the deployment down this long.
    public int RateLimitCooldownMs { get; init; } = 5000;
    public bool ServerError { get; init; } = true;
    public bool Connection { get; init; } = true;
    public bool Timeout { get; init; } = true;
    // Per try, non-streaming; unset = only the provider's timeout_seconds.
    public int? TimeoutMs { get; init; }
    // Streams: time to the first chunk (failover still possible) and between chunks (error event + abort).
    public int? TtftTimeoutMs { get; init; }
    public int? IdleTimeoutMs { get; init; }
    public bool ContextLength { get; init; } = true;
    public bool ContentPolicy { get; init; }
}

// Retries on the same deployment before failing over; 0 = fail over at once.
public sealed record RetryConfig
{
    public int MaxAttempts { get; init; }
    public int BaseDelayMs { get; init; } = 200;
    public int MaxDelayMs { get; init; } = 2000;
}

public sealed record CircuitBreakerConfig
{
    public bool Enabled { get; init; } = true;
    public double FailureRatio { get; init; } = 0.5;
    public int MinimumThroughput { get; init; } = 10;
    public int SamplingSeconds { get; init; } = 30;
    public int BreakSeconds { get; init; } = 30;
}

// Non-streaming only: after `delay_ms` without an answer, the next deployment is asked too; the first good
// answer wins and the other call is cancelled.
public sealed record HedgingConfig
{
    public int DelayMs { get; init; } = 500;
}

// For `strategy: score`: lower is better; each term is normalised to 0..1 among the candidates.
public sealed record ScoreWeightsConfig
{
    public double Latency { get; init; } = 1;
    public double ErrorRate { get; init; } = 1;
    public double Cost { get; init; }
}

// A deployment whose window shows a p95 latency or an error rate above these is demoted: it is tried only
// after the healthy ones, except for one probe request every `probe_interval_seconds`; it recovers after
// `recover_after` healthy probes.
public sealed record DemotionConfig
{
    public double? P95LatencyMs { get; init; }
    public double? ErrorRate { get; init; }
    public int MinSamples { get; init; } = 20;
    public int ProbeIntervalSeconds { get; init; } = 30;
    public int RecoverAfter { get; init; } = 1;
}
