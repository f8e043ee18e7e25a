using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Traces.V1;
using Google.Protobuf.WellKnownTypes;

namespace Gateway.Traces.Tests;

// A deterministic spread of traces over teams, projects, users, models, providers, outcomes, prompts and hours.
public static class TraceData
{
    public static readonly DateTimeOffset Start = new(2026, 11, 20, 10, 0, 0, TimeSpan.Zero);

    public static readonly string[] Teams = ["search", "ads", "data-science"];
    public static readonly string[] Projects = ["churn", "ranker"];
    public static readonly string[] Users = ["alice", "bob", "carol", "dave"];
    public static readonly (string Model, string Provider)[] Models = [("gpt-4o", "openai"), ("claude-sonnet-4", "anthropic"), ("llama-3-70b", "onprem")];

    public static List<TraceEvent> Make(int count, string prefix = "req")
    {
        var traces = new List<TraceEvent>(count);
        for (var i = 0; i < count; i++)
        {
            var (model, provider) = Models[i % Models.Length];
            var failed = i % 10 == 0;
            var started = Start.AddSeconds(i * 37).AddMilliseconds(i % 1000);
            var total = 100 + i * 7919 % 900;
            var trace = new TraceEvent
            {
                RequestId = $"{prefix}-{i:D6}",
                StartedAt = Timestamp.FromDateTimeOffset(started),
                FinishedAt = Timestamp.FromDateTimeOffset(started.AddMilliseconds(total)),
                Principal = new Principal { KeyName = $"key-{i % 5}", Team = Teams[i % Teams.Length], Project = Projects[i % Projects.Length], Environment = "prod", User = Users[i % Users.Length] },
                Api = i % 4 == 0 ? "messages" : "chat",
                RequestedModel = model,
                ServedModel = failed ? "" : model,
                Provider = failed ? "" : provider,
                UpstreamModel = failed ? "" : model + "-2025",
                Deployment = failed ? "" : $"{provider}/{model}-2025",
                Stream = i % 3 == 0,
                Status = failed ? "error" : "ok",
                ErrorClass = failed ? (i % 20 == 0 ? "rate_limited" : "upstream_error") : "",
                HttpStatus = failed ? (i % 20 == 0 ? 429 : 502) : 200,
                Usage = new Usage { InputTokens = 10 + i, OutputTokens = failed ? 0 : 5 + i % 50, CachedInputTokens = i % 4, ReasoningTokens = i % 3 },
                CostUsd = failed ? 0 : (10 + i) * 2.5e-6 + (5 + i % 50) * 1e-5,
                Latencies = new Latencies
                {
                    AuthMs = 0.25, PromptMs = i % 3 == 0 ? 1.5 : 0, GuardInMs = 2, BudgetMs = 0.5, RoutingMs = 0.25,
                    ProviderTtftMs = total / 2, ProviderTotalMs = total - 5 - i % 5, GuardOutMs = 1, TotalMs = total, OverheadMs = 5 + i % 5,
                },
                PromptName = i % 3 == 0 ? "support" : "",
                PromptVersion = i % 3 == 0 ? 1 + i % 2 : 0,
                PromptLabel = i % 3 == 0 ? "production" : "",
                Experiment = i % 6 == 0 ? "tone" : "",
                ExperimentArm = i % 6 == 0 ? (i % 12 == 0 ? "a" : "b") : "",
                GuardAction = i % 8 == 0 ? "REDACT" : "ALLOW",
                Capture = i % 2 == 0 ? "redacted" : "metadata",
                RequestBody = i % 2 == 0 ? $"{{\"model\":\"{model}\",\"messages\":[{{\"role\":\"user\",\"content\":\"question {i} from [EMAIL_1]\"}}]}}" : "",
                ResponseBody = i % 2 == 0 && !failed ? $"{{\"choices\":[{{\"message\":{{\"content\":\"answer {i}\"}}}}]}}" : "",
            };
            if (i % 7 == 0)
            {
                trace.Attempts.Add(new Attempt { Provider = "azure", Model = model, UpstreamModel = "gpt-4o-prod", HttpStatus = 503, ErrorClass = "upstream_unavailable", LatencyMs = 12.5 });
            }
            trace.Attempts.Add(new Attempt { Provider = provider, Model = model, UpstreamModel = model + "-2025", HttpStatus = failed ? 502 : 200, ErrorClass = failed ? "upstream_error" : "", LatencyMs = total - 10 });
            if (i % 8 == 0)
            {
                trace.GuardFindings.Add(new GuardFinding { EntityType = "EMAIL", Count = 1 + i % 2, Action = "redact", Direction = "input" });
                trace.GuardFindings.Add(new GuardFinding { EntityType = "PHONE", Count = 1, Action = "redact", Direction = "input" });
            }
            trace.Metadata["app"] = i % 2 == 0 ? "web" : "batch";
            trace.Metadata["ticket"] = $"T-{i}";
            trace.Tags.Add(i % 2 == 0 ? "beta" : "ga");
            traces.Add(trace);
        }
        return traces;
    }

    public static string Model(TraceEvent t) => t.ServedModel.Length > 0 ? t.ServedModel : t.RequestedModel;

    public static IEnumerable<TraceEvent> Newest(this IEnumerable<TraceEvent> traces)
        => traces.OrderByDescending(t => t.StartedAt.ToDateTimeOffset().ToUnixTimeMilliseconds()).ThenByDescending(t => t.RequestId, StringComparer.Ordinal);

    // ClickHouse's quantileExactLow.
    public static double Quantile(IEnumerable<double> values, double level)
    {
        var sorted = values.Order().ToList();
        var n = sorted.Count;
        var index = level == 0.5 ? (n % 2 == 0 ? n / 2 - 1 : n / 2) : Math.Min(n - 1, (int)(level * n));
        return sorted[index];
    }
}
