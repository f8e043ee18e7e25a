using Gateway.Common.Events;
using Gateway.Contracts.Traces.V1;
using Google.Protobuf.WellKnownTypes;

namespace Gateway.Mcp.Audit;

// One audited tools/call.
public sealed record McpAuditRecord
{
    public string Id { get; init; } = "";
    public DateTimeOffset Time { get; init; }
    public string Session { get; init; } = "";
    public string Principal { get; init; } = "";
    public string User { get; init; } = "";
    public string Team { get; init; } = "";
    public IReadOnlyList<string> Roles { get; init; } = [];
    public string ClientName { get; init; } = "";
    public string ClientVersion { get; init; } = "";
    public string Endpoint { get; init; } = "";
    public string Server { get; init; } = "";
    public string Tool { get; init; } = "";
    public string Arguments { get; init; } = "{}";
    // ok, error, denied, rate_limited, timeout, blocked (by the guard)
    public string Outcome { get; init; } = "";
    public string Reason { get; init; } = "";
    public double LatencyMs { get; init; }
    public long ResultBytes { get; init; }
    public string Justification { get; init; } = "";
    // The id of the LLM tool call that asked for this call (`_meta.tool_call_id`), linking to that trace.
    public string ToolCallId { get; init; } = "";
    public string TraceId { get; init; } = "";
    // What the guard did with the arguments and the result: its policy, strongest action and findings
    // (entity types and counts, never values).
    public string GuardPolicy { get; init; } = "";
    public string GuardAction { get; init; } = "";
    public IReadOnlyList<McpGuardFinding> GuardFindings { get; init; } = [];
}

// Every audited call is published on the `mcp-audit` topic (in-process when embedded, Dapr in the mesh); the
// traces service stores it next to the traces (SQLite or ClickHouse) with the traces' no-loss ingest path.
public sealed class McpAuditSink(IEventBus bus)
{
    // Publishing never takes the caller's cancellation: a call the client abandoned is still audited.
    public ValueTask RecordAsync(McpAuditRecord record) => bus.PublishAsync(Topics.McpAudit, ToEvent(record), CancellationToken.None);

    public static McpAuditEvent ToEvent(McpAuditRecord record)
    {
        var audit = new McpAuditEvent
        {
            Id = record.Id,
            Time = Timestamp.FromDateTimeOffset(record.Time),
            Session = record.Session,
            Principal = record.Principal,
            User = record.User,
            Team = record.Team,
            ClientName = record.ClientName,
            ClientVersion = record.ClientVersion,
            Endpoint = record.Endpoint,
            Server = record.Server,
            Tool = record.Tool,
            Arguments = record.Arguments,
            Outcome = record.Outcome,
            Reason = record.Reason,
            LatencyMs = record.LatencyMs,
            ResultBytes = record.ResultBytes,
            Justification = record.Justification,
            ToolCallId = record.ToolCallId,
            TraceId = record.TraceId,
            GuardPolicy = record.GuardPolicy,
            GuardAction = record.GuardAction,
        };
        audit.Roles.AddRange(record.Roles);
        audit.GuardFindings.AddRange(record.GuardFindings.Select(f => new GuardFinding { EntityType = f.Type, Count = f.Count, Action = f.Action, Direction = f.Direction }));
        return audit;
    }

    public static McpAuditRecord FromEvent(McpAuditEvent audit) => new()
    {
        Id = audit.Id,
        Time = audit.Time?.ToDateTimeOffset() ?? DateTimeOffset.UnixEpoch,
        Session = audit.Session,
        Principal = audit.Principal,
        User = audit.User,
        Team = audit.Team,
        Roles = [.. audit.Roles],
        ClientName = audit.ClientName,
        ClientVersion = audit.ClientVersion,
        Endpoint = audit.Endpoint,
        Server = audit.Server,
        Tool = audit.Tool,
        Arguments = audit.Arguments,
        Outcome = audit.Outcome,
        Reason = audit.Reason,
        LatencyMs = audit.LatencyMs,
        ResultBytes = audit.ResultBytes,
        Justification = audit.Justification,
        ToolCallId = audit.ToolCallId,
        TraceId = audit.TraceId,
        GuardPolicy = audit.GuardPolicy,
        GuardAction = audit.GuardAction,
        GuardFindings = [.. audit.GuardFindings.Select(f => new McpGuardFinding(f.EntityType, f.Count, f.Action, f.Direction))],
    };
}
