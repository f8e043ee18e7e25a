using System.Collections.Concurrent;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace Gateway.Router.Routing;

// One Polly pipeline per (policy, deployment): retry with jittered backoff honouring Retry-After → circuit
// breaker → timeout per try (non-streaming; streams use the time-to-first-token limit instead). Built once,
// cached, and rebuilt after a configuration reload. Polly reads time from the injected TimeProvider, so tests
// drive the breaker with FakeTimeProvider.
public sealed class ResiliencePipelines : IDisposable
{
    public static readonly ResiliencePropertyKey<bool> Streaming = new("gateway.streaming");

    private readonly TimeProvider _time;
    private readonly ConfigMonitor? _config;
    private ConcurrentDictionary<(string Policy, string Deployment), Entry> _entries = new();

    public ResiliencePipelines(TimeProvider time, ConfigMonitor? config = null)
    {
        _time = time;
        _config = config;
        if (_config is not null)
        {
            _config.Changed += OnConfigChanged;
        }
    }

    public sealed record Entry(ResiliencePipeline Pipeline, CircuitBreakerStateProvider? Circuit, RoutingPolicyConfig Policy);

    public Entry Get(string policyName, RoutingPolicyConfig policy, string deployment)
    {
        var entries = _entries;
        if (entries.TryGetValue((policyName, deployment), out var entry) && ReferenceEquals(entry.Policy, policy))
        {
            return entry;
        }
        return entries.AddOrUpdate((policyName, deployment), _ => Build(policy), (_, existing) => ReferenceEquals(existing.Policy, policy) ? existing : Build(policy));
    }

    // Circuit state per policy for one deployment, for the admin view.
    public IReadOnlyDictionary<string, CircuitState> Circuits(string deployment)
    {
        var result = new SortedDictionary<string, CircuitState>(StringComparer.Ordinal);
        foreach (var ((policy, key), entry) in _entries)
        {
            if (key == deployment && entry.Circuit is { } circuit)
            {
                result[policy] = circuit.CircuitState;
            }
        }
        return result;
    }

    public Entry Build(RoutingPolicyConfig policy)
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = _time };
        var retry = policy.Retry;
        if (retry.MaxAttempts > 0)
        {
            var maxDelay = TimeSpan.FromMilliseconds(retry.MaxDelayMs);
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = retry.MaxAttempts,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(retry.BaseDelayMs),
                MaxDelay = maxDelay,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception switch
                {
                    // A Retry-After longer than the policy's longest delay: fail over now, the deployment cools down.
                    GatewayException { Kind: ErrorKind.UpstreamRateLimited, RetryAfterSeconds: { } after } when TimeSpan.FromSeconds(after) > maxDelay => false,
                    GatewayException e => Failures.IsDeploymentFault(Failures.Classify(e)) && Failures.Triggers(policy.Triggers, Failures.Classify(e)),
                    TimeoutRejectedException => policy.Triggers.Timeout,
                    _ => false,
                }),
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(args.Outcome.Exception is GatewayException { RetryAfterSeconds: { } seconds }
                    ? TimeSpan.FromSeconds(seconds)
                    : null),
            });
        }
        CircuitBreakerStateProvider? circuit = null;
        if (policy.CircuitBreaker is { Enabled: true } breaker)
        {
            circuit = new CircuitBreakerStateProvider();
            builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = breaker.FailureRatio,
                MinimumThroughput = breaker.MinimumThroughput,
                SamplingDuration = TimeSpan.FromSeconds(breaker.SamplingSeconds),
                BreakDuration = TimeSpan.FromSeconds(breaker.BreakSeconds),
                StateProvider = circuit,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception switch
                {
                    GatewayException e => Failures.IsDeploymentFault(Failures.Classify(e)),
                    TimeoutRejectedException => true,
                    _ => false,
                }),
            });
        }
        if (policy.Triggers.TimeoutMs is { } timeoutMs)
        {
            var timeout = TimeSpan.FromMilliseconds(timeoutMs);
            builder.AddTimeout(new TimeoutStrategyOptions
            {
                TimeoutGenerator = args => ValueTask.FromResult(args.Context.Properties.GetValue(Streaming, false) ? TimeSpan.Zero : timeout),
            });
        }
        return new Entry(builder.Build(), circuit, policy);
    }

    private void OnConfigChanged(GatewayConfig config) => _entries = new();

    public void Dispose()
    {
        if (_config is not null)
        {
            _config.Changed -= OnConfigChanged;
        }
    }
}
