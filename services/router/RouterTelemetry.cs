using System.Diagnostics;
using System.Diagnostics.Metrics;
using Gateway.Common.Hosting;

namespace Gateway.Router;

// Owns the router's spans and metrics; spans carry the OpenTelemetry GenAI attributes.
public sealed class RouterTelemetry : IDisposable
{
    private readonly Meter _meter = new(GatewayDefaults.MeterName);

    public RouterTelemetry()
    {
        Requests = _meter.CreateCounter<long>("gateway.requests", description: "Requests handled, by model, provider and outcome");
        Tokens = _meter.CreateCounter<long>("gen_ai.client.token.usage.total", unit: "{token}", description: "Tokens used, by model and direction");
        Duration = _meter.CreateHistogram<double>("gateway.request.duration", unit: "ms", description: "End-to-end request duration");
        Overhead = _meter.CreateHistogram<double>("gateway.overhead.duration", unit: "ms", description: "Time spent in the gateway itself");
        Cost = _meter.CreateCounter<double>("gateway.cost", unit: "USD", description: "Spend, by model, provider and team");
    }

    public ActivitySource Source { get; } = new(GatewayDefaults.ActivitySourceName);

    public Counter<long> Requests { get; }

    public Counter<long> Tokens { get; }

    public Histogram<double> Duration { get; }

    public Histogram<double> Overhead { get; }

    public Counter<double> Cost { get; }

    public void Dispose()
    {
        Source.Dispose();
        _meter.Dispose();
    }
}
