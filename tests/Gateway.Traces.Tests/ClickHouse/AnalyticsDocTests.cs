using System.Text.RegularExpressions;
using Gateway.Traces.Ingest;
using Gateway.Traces.Storage;

namespace Gateway.Traces.Tests.ClickHouse;

// Every query in docs/analytics.md runs against the schema, with data in it.
public sealed partial class AnalyticsDocTests(ClickHouseFixture clickHouse)
{
    [GeneratedRegex("```sql\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex SqlBlock();

    public static TheoryData<int> Queries() => [.. Enumerable.Range(0, ExampleQueries().Count)];

    private static List<string> ExampleQueries()
    {
        var doc = Path.Combine(ChdbServer.ToolsDirectory()!, "..", "..", "docs", "analytics.md");
        return [.. SqlBlock().Matches(File.ReadAllText(doc)).SelectMany(m => ClickHouseTraceStore.Statements(m.Groups[1].Value))];
    }

    [Fact]
    public void AnalyticsDoc_HasAtLeastTenQueries() => Assert.True(ExampleQueries().Count >= 10);

    [Theory]
    [MemberData(nameof(Queries))]
    public async Task AnalyticsDoc_Query_RunsAgainstTheSchema(int index)
    {
        await using var store = await clickHouse.NewStoreAsync();
        // Recent data, so the "last day" queries return rows too.
        var traces = TraceData.Make(200, "doc");
        var shift = TimeProvider.System.GetUtcNow().AddHours(-2) - TraceData.Start;
        foreach (var trace in traces)
        {
            trace.StartedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(trace.StartedAt.ToDateTimeOffset() + shift);
        }
        await store.WriteAsync(traces, TraceIngestor.BatchToken(traces), TestContext.Current.CancellationToken);
        // The doc's example request id stands for a traced request that used a prompt.
        var sql = ExampleQueries()[index].Replace("gateway.", "{database}.", StringComparison.Ordinal)
            .Replace("0193a4c2e5f07b6c8d9e0f1a2b3c4d5e", "doc-000003", StringComparison.Ordinal);
        if (sql.Contains("feedback", StringComparison.Ordinal))
        {
            await store.WriteFeedbackAsync(new Contracts.Traces.V1.Feedback { RequestId = "doc-000003", Score = 1, Comment = "good", KeyName = "key-3", CreatedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(TimeProvider.System.GetUtcNow()) }, TestContext.Current.CancellationToken);
        }
        if (sql.Contains("mcp_audit", StringComparison.Ordinal))
        {
            // The MCP audit queries read tool calls: an allowed, a denied and a guard-blocked call from an hour ago.
            await store.RawAsync(McpAuditRows, TestContext.Current.CancellationToken);
        }
        var rows = await store.RawAsync(sql, TestContext.Current.CancellationToken);
        Assert.NotEmpty(rows);
    }

    private const string McpAuditRows = """
        INSERT INTO {database}.mcp_audit (id, time, session, principal, user, team, roles, client_name, client_version,
            endpoint, server, tool, arguments, outcome, reason, latency_ms, result_bytes, justification, tool_call_id, trace_id,
            guard_policy, guard_action, guard_findings)
        VALUES ('a1', now() - INTERVAL 1 HOUR, 's1', 'agent-1', 'alice', 'support', ['analyst'], 'claude-code', '1.0',
                'mcp', 'everything', 'everything__echo', '{}', 'ok', '', 3.5, 42, 'user asked', 'call_1', 't1',
                'strict', 'redact', map('input:EMAIL', 1)),
               ('a2', now() - INTERVAL 1 HOUR, 's1', 'agent-1', 'alice', 'support', ['analyst'], 'claude-code', '1.0',
                'mcp', 'memory', 'memory__delete_entities', '{}', 'denied', 'no rule', 0.2, 0, '', 'call_2', 't2',
                '', '', map()),
               ('a3', now() - INTERVAL 1 HOUR, 's1', 'agent-1', 'alice', 'support', ['analyst'], 'claude-code', '1.0',
                'mcp', 'memory', 'memory__create_entities', '', 'blocked', 'guard', 0.4, 0, '', 'call_3', 't3',
                'strict', 'block', map('input:SECRET', 1))
        """;
}
