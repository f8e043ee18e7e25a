using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Edge.Http;
using Gateway.Router.Routing;
using Polly.CircuitBreaker;

namespace Gateway.Edge.Admin;

// GET /admin/v1/routing: every configured deployment's live numbers (window, error rate, latency and TTFT
// percentiles, cost per request) and state (circuit per policy, demotion, cooling down until). Requires
// `Authorization: Bearer <server.admin_key>`; without an admin key configured the admin API does not exist.
public static class AdminRoutingEndpoints
{
    public static IEndpointRouteBuilder MapAdminRouting(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/admin/v1/routing", async (HttpContext context, ConfigMonitor config, RoutingState state, ResiliencePipelines pipelines) =>
        {
            GatewayHeaders.AssignRequestId(context);
            var current = config.Current;
            if (AdminAuth.Check(context, current) is { } denied)
            {
                await ErrorWriter.WriteAsync(context, denied, ErrorShape.OpenAi);
                return;
            }
            context.Response.ContentType = "application/json";
            context.Response.Headers.CacheControl = "no-store";
            await using var writer = new Utf8JsonWriter(context.Response.Body);
            Write(writer, current, state, pipelines);
            await writer.FlushAsync(context.RequestAborted);
        });
        return endpoints;
    }

    private static void Write(Utf8JsonWriter writer, GatewayConfig config, RoutingState state, ResiliencePipelines pipelines)
    {
        var now = state.Time.GetUtcNow();
        var served = new SortedDictionary<string, (string Provider, string Upstream, SortedSet<string> Models)>(StringComparer.Ordinal);
        foreach (var (model, route) in config.Models)
        {
            foreach (var target in route.Targets)
            {
                var key = DeploymentHealth.DeploymentKey(target.Provider, target.Model);
                if (!served.TryGetValue(key, out var entry))
                {
                    served[key] = entry = (target.Provider, target.Model, new SortedSet<string>(StringComparer.Ordinal));
                }
                entry.Models.Add(model);
            }
        }
        writer.WriteStartObject();
        writer.WriteString("now", now);
        writer.WriteNumber("window_seconds", config.Routing.Health.WindowSeconds);
        writer.WriteStartArray("policies");
        writer.WriteStringValue(PolicyResolver.DefaultName);
        foreach (var name in config.Routing.Policies.Keys.Where(n => n != PolicyResolver.DefaultName).Order(StringComparer.Ordinal))
        {
            writer.WriteStringValue(name);
        }
        writer.WriteEndArray();
        writer.WriteStartArray("deployments");
        foreach (var (key, (provider, upstream, models)) in served)
        {
            var health = state.Get(provider, upstream);
            var stats = health.Stats(now);
            var cooling = health.CoolingDownUntil(now);
            var circuits = pipelines.Circuits(key);
            var demotions = health.Demotions().Where(d => d.Value.Demoted).ToList();
            writer.WriteStartObject();
            writer.WriteString("deployment", key);
            writer.WriteString("provider", provider);
            writer.WriteString("upstream_model", upstream);
            writer.WriteStartArray("models");
            foreach (var model in models)
            {
                writer.WriteStringValue(model);
            }
            writer.WriteEndArray();
            writer.WriteString("state", State(cooling, circuits.Values, demotions.Count > 0));
            writer.WriteNumber("samples", stats.Samples);
            writer.WriteNumber("failures", stats.Failures);
            writer.WriteNumber("error_rate", Math.Round(stats.ErrorRate, 4));
            writer.WriteNumber("latency_p50_ms", Math.Round(stats.LatencyP50Ms, 1));
            writer.WriteNumber("latency_p95_ms", Math.Round(stats.LatencyP95Ms, 1));
            writer.WriteNumber("ttft_p50_ms", Math.Round(stats.TtftP50Ms, 1));
            writer.WriteNumber("ttft_p95_ms", Math.Round(stats.TtftP95Ms, 1));
            writer.WriteNumber("cost_per_request_usd", stats.CostPerRequestUsd);
            if (cooling is { } until)
            {
                writer.WriteString("cooling_down_until", until);
            }
            else
            {
                writer.WriteNull("cooling_down_until");
            }
            writer.WriteStartObject("circuits");
            foreach (var (policy, circuit) in circuits)
            {
                writer.WriteString(policy, Name(circuit));
            }
            writer.WriteEndObject();
            writer.WriteStartObject("demoted");
            foreach (var (policy, demotion) in demotions)
            {
                writer.WriteStartObject(policy);
                writer.WriteString("since", demotion.Since);
                writer.WriteString("next_probe_at", demotion.NextProbeAt);
                writer.WriteNumber("healthy_probes", demotion.HealthyProbes);
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    // The one word a dashboard shows: the worst of the deployment's states.
    private static string State(DateTimeOffset? cooling, IEnumerable<CircuitState> circuits, bool demoted)
    {
        var states = circuits.ToList();
        return states.Any(c => c is CircuitState.Open or CircuitState.Isolated) ? "open"
            : states.Contains(CircuitState.HalfOpen) ? "half-open"
            : cooling is not null ? "cooling-down"
            : demoted ? "demoted"
            : "closed";
    }

    private static string Name(CircuitState state) => state switch
    {
        CircuitState.Closed => "closed",
        CircuitState.Open => "open",
        CircuitState.HalfOpen => "half-open",
        _ => "isolated",
    };
}
