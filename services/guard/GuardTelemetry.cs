using System.Diagnostics.Metrics;
using Gateway.Common.Hosting;
using Gateway.Contracts.Guard.V1;
using Gateway.Guard.Policy;

namespace Gateway.Guard;

// The guard's metrics: verdicts by action and findings by entity type (counts only, never values).
public sealed class GuardTelemetry : IDisposable
{
    private readonly Meter _meter = new(GatewayDefaults.MeterName);
    private readonly Counter<long> _verdicts;
    private readonly Counter<long> _findings;

    public GuardTelemetry()
    {
        _verdicts = _meter.CreateCounter<long>("gateway.guard.verdicts", description: "Guard verdicts, by policy, direction and action");
        _findings = _meter.CreateCounter<long>("gateway.guard.findings", description: "Guard findings, by policy, direction, entity type and action");
    }

    public void Record(Verdict verdict, string direction)
    {
        _verdicts.Add(1,
            new KeyValuePair<string, object?>("policy", verdict.Policy),
            new KeyValuePair<string, object?>("direction", direction),
            new KeyValuePair<string, object?>("action", CompiledPolicy.ActionName(verdict.Action)));
        RecordFindings(verdict.Policy, direction, verdict.Findings);
    }

    public void RecordFindings(string policy, string direction, IEnumerable<Finding> findings)
    {
        foreach (var finding in findings)
        {
            _findings.Add(finding.Count,
                new KeyValuePair<string, object?>("policy", policy),
                new KeyValuePair<string, object?>("direction", direction),
                new KeyValuePair<string, object?>("entity_type", finding.EntityType),
                new KeyValuePair<string, object?>("action", CompiledPolicy.ActionName(finding.Action)));
        }
    }

    public void Dispose() => _meter.Dispose();
}
