using Gateway.Common.Configuration;
using Gateway.Router.Providers;

namespace Gateway.Router.Routing;

// Orders the deployments to try for a public model: its own targets in weighted-random order, then each
// fallback model's targets the same way. Failover walks this list.
public sealed class RoutePlanner(ConfigMonitor config)
{
    public List<ProviderTarget> Plan(string model)
    {
        var current = config.Current;
        var plan = new List<ProviderTarget>(4);
        var visited = new HashSet<string>(StringComparer.Ordinal);
        AddModel(current, model, plan, visited);
        if (current.Models.TryGetValue(model, out var primary))
        {
            foreach (var fallback in primary.Fallbacks)
            {
                AddModel(current, fallback, plan, visited);
            }
        }
        return plan;
    }

    // The plan limited to providers whose `residency` is one of `residency` (route_self_hosted); null = no limit.
    public List<ProviderTarget> Plan(string model, IReadOnlyCollection<string>? residency)
    {
        var plan = Plan(model);
        if (residency is { Count: > 0 })
        {
            plan.RemoveAll(t => t.Config.Residency is not { } where || !residency.Contains(where));
        }
        return plan;
    }

    private static void AddModel(GatewayConfig config, string model, List<ProviderTarget> plan, HashSet<string> visited)
    {
        if (!visited.Add(model) || !config.Models.TryGetValue(model, out var route))
        {
            return;
        }
        var remaining = route.Targets.Where(t => t.Weight > 0).ToList();
        while (remaining.Count > 0)
        {
            var total = remaining.Sum(t => (long)t.Weight);
            var pick = Random.Shared.NextInt64(total);
            var index = 0;
            for (; index < remaining.Count - 1; index++)
            {
                pick -= remaining[index].Weight;
                if (pick < 0)
                {
                    break;
                }
            }
            var target = remaining[index];
            remaining.RemoveAt(index);
            plan.Add(new ProviderTarget(target.Provider, config.Providers[target.Provider], target.Model, model));
        }
    }
}
