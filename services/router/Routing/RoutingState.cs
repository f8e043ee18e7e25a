using System.Collections.Concurrent;
using Gateway.Common.Configuration;

namespace Gateway.Router.Routing;

// The live evidence about every deployment, shared by all requests and policies: one DeploymentHealth per
// provider + upstream model, created on first use and kept across configuration reloads.
public sealed class RoutingState
{
    private readonly ConcurrentDictionary<string, DeploymentHealth> _deployments = new(StringComparer.Ordinal);
    private readonly ConfigMonitor? _config;

    public RoutingState(TimeProvider time, ConfigMonitor? config = null)
    {
        Time = time;
        _config = config;
    }

    public TimeProvider Time { get; }

    private TimeSpan Window => TimeSpan.FromSeconds(_config?.Current.Routing.Health.WindowSeconds ?? 60);

    public DeploymentHealth Get(string provider, string upstreamModel)
    {
        var key = DeploymentHealth.DeploymentKey(provider, upstreamModel);
        if (_deployments.TryGetValue(key, out var health))
        {
            var window = Window;
            if (health.Window != window)
            {
                health.Window = window;
            }
            return health;
        }
        return _deployments.GetOrAdd(key, _ => new DeploymentHealth(provider, upstreamModel, Window));
    }

    public IEnumerable<DeploymentHealth> All => _deployments.Values.OrderBy(d => d.Key, StringComparer.Ordinal);
}

// Which policy routes a request: the first `routing.assign` entry whose scope matches the key and model, else
// the model's own `policy`, else the built-in default.
public static class PolicyResolver
{
    public const string DefaultName = "default";

    public static (string Name, RoutingPolicyConfig Policy) Resolve(GatewayConfig config, Gateway.Contracts.Common.V1.Principal? principal, string model)
    {
        var routing = config.Routing;
        foreach (var entry in routing.Assign)
        {
            if (Matches(entry.Scope, principal, model) && routing.Policies.TryGetValue(entry.Policy, out var assigned))
            {
                return (entry.Policy, assigned);
            }
        }
        if (config.Models.TryGetValue(model, out var route) && route.Policy is { } name && routing.Policies.TryGetValue(name, out var own))
        {
            return (name, own);
        }
        return routing.Policies.TryGetValue(DefaultName, out var configured) ? (DefaultName, configured) : (DefaultName, RoutingPolicyConfig.Default);
    }

    private static bool Matches(PolicyScopeConfig scope, Gateway.Contracts.Common.V1.Principal? principal, string model)
        => Is(scope.Model, model)
           && Is(scope.Key, principal?.KeyName)
           && Is(scope.Team, principal?.Team)
           && Is(scope.Project, principal?.Project)
           && Is(scope.Environment, principal?.Environment);

    private static bool Is(string? wanted, string? actual) => wanted is null || string.Equals(wanted, actual, StringComparison.Ordinal);
}
