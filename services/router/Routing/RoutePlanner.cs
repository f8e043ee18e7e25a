using Gateway.Common.Configuration;
using Gateway.Contracts.Common.V1;
using Gateway.Router.Providers;

namespace Gateway.Router.Routing;

// One deployment to try, in plan order, with what failover needs to know about it.
public sealed record RouteStep(ProviderTarget Target, DeploymentHealth Health, int? ContextWindow);

// The deployments to try for one request and the policy that governs the attempts.
public sealed record RoutePlan(string PolicyName, RoutingPolicyConfig Policy, List<RouteStep> Steps, DateTimeOffset? CoolingDownUntil);

// Orders the deployments to try for a public model: its own targets in the policy's order, then each
// fallback model's targets the same way (the policy's fallbacks when it names some, else the model's).
// Deployments cooling down after a 429 are left out until their Retry-After has passed.
public sealed class RoutePlanner(ConfigMonitor config, RoutingState state)
{
    // `current` is the request's configuration snapshot; the live one when the caller has none.
    public RoutePlan PlanRoute(string model, Principal? principal, bool stream, IReadOnlyCollection<string>? residency = null, GatewayConfig? current = null)
    {
        current ??= config.Current;
        var (policyName, policy) = PolicyResolver.Resolve(current, principal, model);
        var now = state.Time.GetUtcNow();
        var steps = new List<RouteStep>(4);
        DateTimeOffset? cooling = null;
        var visited = new HashSet<string>(StringComparer.Ordinal);
        AddModel(current, model, policyName, policy, stream, now, steps, visited, ref cooling);
        if (current.Models.TryGetValue(model, out var primary))
        {
            foreach (var fallback in policy.Fallbacks ?? primary.Fallbacks)
            {
                AddModel(current, fallback, policyName, policy, stream, now, steps, visited, ref cooling);
            }
        }
        // Residency (guard's route_self_hosted) removes every deployment outside the allowed places.
        steps.RemoveAll(step => !Allowed(step.Target, residency));
        return new RoutePlan(policyName, policy, steps, cooling);
    }

    // Embeddings: weighted order, no policy.
    public List<ProviderTarget> Plan(string model)
        => PlanRoute(model, null, stream: false).Steps.Select(s => s.Target).ToList();

    // The plan limited to providers whose `residency` is one of `residency` (route_self_hosted); null = no limit.
    public List<ProviderTarget> Plan(GatewayConfig current, string model, IReadOnlyCollection<string>? residency)
        => PlanRoute(model, null, stream: false, residency, current).Steps.Select(s => s.Target).ToList();

    private static bool Allowed(ProviderTarget target, IReadOnlyCollection<string>? residency)
        => residency is not { Count: > 0 } || (target.Config.Residency is { } where && residency.Contains(where));

    private void AddModel(GatewayConfig config, string model, string policyName, RoutingPolicyConfig policy, bool stream, DateTimeOffset now,
        List<RouteStep> steps, HashSet<string> visited, ref DateTimeOffset? cooling)
    {
        if (!visited.Add(model) || !config.Models.TryGetValue(model, out var route))
        {
            return;
        }
        var targets = route.Targets;
        var candidates = new Candidate[targets.Count];
        for (var i = 0; i < targets.Count; i++)
        {
            var health = state.Get(targets[i].Provider, targets[i].Model);
            candidates[i] = new Candidate(targets[i].Weight, health);
            if (targets[i].Weight > 0 && health.CoolingDownUntil(now) is { } until && (cooling is null || until < cooling))
            {
                cooling = until;
            }
        }
        Span<int> order = stackalloc int[candidates.Length];
        var count = DeploymentSelector.Order(candidates, order, policyName, policy, stream, now, Random.Shared);
        for (var n = 0; n < count; n++)
        {
            var target = targets[order[n]];
            steps.Add(new RouteStep(new ProviderTarget(target.Provider, config.Providers[target.Provider], target.Model, model), candidates[order[n]].Health, route.ContextWindow));
        }
    }
}
