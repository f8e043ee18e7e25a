using System.Globalization;
using System.Text.Json;
using Gateway.Contracts.Traces.V1;
using Google.Protobuf;

namespace Gateway.Traces.Storage;

// The MCP audit log, kept by the trace stores next to the traces (table mcp_audit) so that a query can join a
// tool call to the model call that asked for it. Rows arrive through the trace ingestor (see McpAuditEnvelope).
public interface IMcpAuditStore
{
    // Newest first.
    Task<IReadOnlyList<McpAuditEvent>> QueryAuditAsync(McpAuditFilter filter, CancellationToken cancellationToken);
}

public sealed record McpAuditFilter
{
    public const int MaxLimit = 1000;

    public string? Principal { get; init; }
    public string? Server { get; init; }
    public string? Tool { get; init; }
    public string? Outcome { get; init; }
    public DateTimeOffset? Since { get; init; }
    public DateTimeOffset? Until { get; init; }
    public int Limit { get; init; } = 100;

    public int EffectiveLimit => Math.Clamp(Limit, 1, MaxLimit);

    // Equality terms on fixed column names (never client text); time bounds are rendered by each store.
    public IEnumerable<(string Column, string Value)> Terms()
    {
        foreach (var (column, value) in new[] { ("principal", Principal), ("server", Server), ("tool", Tool), ("outcome", Outcome) })
        {
            if (value is { Length: > 0 })
            {
                yield return (column, value);
            }
        }
    }
}

// An audit event inside the traces service travels as a TraceEvent carrying it, so that it shares the
// ingestor's memory queue, disk spool, retries and batch dedup tokens; the stores route it to mcp_audit.
public static class McpAuditEnvelope
{
    public static TraceEvent Wrap(McpAuditEvent audit) => new() { RequestId = audit.Id, StartedAt = audit.Time, McpAudit = audit };

    public static (List<TraceEvent> Traces, List<McpAuditEvent> Audits) Split(IReadOnlyList<TraceEvent> batch)
    {
        var traces = new List<TraceEvent>(batch.Count);
        var audits = new List<McpAuditEvent>();
        foreach (var item in batch)
        {
            if (item.McpAudit is { } audit)
            {
                audits.Add(audit);
            }
            else
            {
                traces.Add(item);
            }
        }
        return (traces, audits);
    }

    public static long TimeMs(McpAuditEvent audit) => audit.Time?.ToDateTimeOffset().ToUnixTimeMilliseconds() ?? 0;

    // One audit row for ClickHouse (JSONEachRow), columns as in deploy/clickhouse/003 and 004.
    public static void WriteJson(Stream output, McpAuditEvent audit)
    {
        using (var w = new Utf8JsonWriter(output))
        {
            w.WriteStartObject();
            w.WriteString("id", audit.Id);
            w.WriteString("time", (audit.Time?.ToDateTimeOffset() ?? DateTimeOffset.UnixEpoch).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture));
            w.WriteString("session", audit.Session);
            w.WriteString("principal", audit.Principal);
            w.WriteString("user", audit.User);
            w.WriteString("team", audit.Team);
            w.WriteStartArray("roles");
            foreach (var role in audit.Roles)
            {
                w.WriteStringValue(role);
            }
            w.WriteEndArray();
            w.WriteString("client_name", audit.ClientName);
            w.WriteString("client_version", audit.ClientVersion);
            w.WriteString("endpoint", audit.Endpoint);
            w.WriteString("server", audit.Server);
            w.WriteString("tool", audit.Tool);
            w.WriteString("arguments", audit.Arguments);
            w.WriteString("outcome", audit.Outcome);
            w.WriteString("reason", audit.Reason);
            w.WriteNumber("latency_ms", audit.LatencyMs);
            w.WriteNumber("result_bytes", Math.Max(0, audit.ResultBytes));
            w.WriteString("justification", audit.Justification);
            w.WriteString("tool_call_id", audit.ToolCallId);
            w.WriteString("trace_id", audit.TraceId);
            w.WriteString("guard_policy", audit.GuardPolicy);
            w.WriteString("guard_action", audit.GuardAction);
            w.WritePropertyName("guard_findings");
            WriteFindings(w, audit);
            w.WriteString("event", Convert.ToBase64String(audit.ToByteArray()));
            w.WriteEndObject();
        }
        output.WriteByte((byte)'\n');
    }

    // Findings as {"input:EMAIL": 1, ...} (the shape of the ClickHouse Map column), for SQLite's guard_findings.
    public static string FindingsJson(McpAuditEvent audit)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            WriteFindings(w, audit);
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteFindings(Utf8JsonWriter w, McpAuditEvent audit)
    {
        w.WriteStartObject();
        foreach (var group in audit.GuardFindings.GroupBy(f => $"{f.Direction}:{f.EntityType}", StringComparer.Ordinal))
        {
            w.WriteNumber(group.Key, group.Sum(f => Math.Max(0, f.Count)));
        }
        w.WriteEndObject();
    }

    public static McpAuditEvent Parse(string base64) => McpAuditEvent.Parser.ParseFrom(Convert.FromBase64String(base64));

}
