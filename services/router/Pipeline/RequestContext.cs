using Gateway.Common.Configuration;
using System.Diagnostics;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Traces.V1;
using Google.Protobuf.WellKnownTypes;

namespace Gateway.Router.Pipeline;

// Everything one request accumulates on its way through the pipeline; becomes its trace event.
internal sealed class RequestContext
{
    private readonly long _start = Stopwatch.GetTimestamp();
    private long _providerStart;

    public RequestContext(string requestId, string api, DateTimeOffset startedAt, bool stream, GatewayConfig config)
    {
        Config = config;
        Trace = new TraceEvent
        {
            RequestId = requestId,
            Api = api,
            StartedAt = Timestamp.FromDateTimeOffset(startedAt),
            Stream = stream,
            Latencies = new Latencies(),
            Status = "ok",
            HttpStatus = 200,
            Capture = RequestCapture.Metadata,
        };
    }

    // The configuration this request is served under from start to end: a reload mid-request must not
    // price, route or capture one request with two different configurations.
    public GatewayConfig Config { get; }

    // The request's span (RequestSpans); null when nobody listens.
    public Activity? Activity { get; set; }

    // Whether a guard policy inspected the input (redacted capture keeps bodies only then).
    public bool Inspected { get; set; }

    // What a stream's trace keeps of the response, when the capture policy keeps a body (RequestCapture.Stream).
    public StreamCapture? Stream { get; set; }

    public TraceEvent Trace { get; }

    public string RequestId => Trace.RequestId;

    public Principal? Principal { get; set; }

    // Set by a route_self_hosted verdict: only providers with one of these residencies may serve.
    public IReadOnlyCollection<string>? Residency { get; set; }

    // Placeholder -> original for pseudonymised input; restored in what the client receives.
    public IReadOnlyDictionary<string, string>? Pseudonyms { get; set; }

    // The input verdict's policy scans responses.
    public bool ScanOutput { get; set; }

    // Adds a verdict's findings to the trace (types and counts only), merging repeats.
    public void AddFindings(Gateway.Contracts.Guard.V1.Verdict verdict)
    {
        if (verdict.Policy is { Length: > 0 } policy && policy != "none")
        {
            Trace.GuardPolicy = policy;
        }
        foreach (var finding in verdict.Findings)
        {
            var action = finding.Action.ToString();
            var existing = Trace.GuardFindings.FirstOrDefault(f => f.EntityType == finding.EntityType && f.Action == action && f.Direction == finding.Direction);
            if (existing is null)
            {
                Trace.GuardFindings.Add(new GuardFinding { EntityType = finding.EntityType, Count = finding.Count, Action = action, Direction = finding.Direction });
            }
            else
            {
                existing.Count += finding.Count;
            }
        }
    }
    // The budget reservation, once admitted (its remaining, rate-limit state and downgrade reach the headers).
    public Contracts.Budget.V1.Reservation? Budget { get; set; }

    public static double Since(long timestamp) => Stopwatch.GetElapsedTime(timestamp).TotalMilliseconds;

    public void ProviderStarted() => _providerStart = Stopwatch.GetTimestamp();

    public void ProviderFirstByte() => Trace.Latencies.ProviderTtftMs = Since(_providerStart);

    public void ProviderFinished() => Trace.Latencies.ProviderTotalMs = Since(_providerStart);

    public void Finish()
    {
        var latencies = Trace.Latencies;
        latencies.TotalMs = Since(_start);
        latencies.OverheadMs = Math.Max(0, latencies.TotalMs - latencies.ProviderTotalMs);
        Trace.FinishedAt = Timestamp.FromDateTimeOffset(Trace.StartedAt.ToDateTimeOffset().AddMilliseconds(latencies.TotalMs));
        if (Trace.Provider.Length > 0)
        {
            Trace.Deployment = $"{Trace.Provider}/{Trace.UpstreamModel}";
        }
        RequestCapture.Finish(this);
    }
}
