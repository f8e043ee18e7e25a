using System.ClientModel;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Testing.Fakes;
using Gateway.Traces.Storage;
using Gateway.Traces.Tests.Admin;
using ModelContextProtocol.Client;
using OpenAI;

namespace Gateway.Traces.Tests.ClickHouse;

// MCP audit rows in the mesh's store: the MCP service publishes them on the bus, the traces service writes them
// to ClickHouse (container or chdb), the admin API reads them back, and they join the model call that asked for the tool.
public sealed class McpAuditClickHouseTests(ClickHouseFixture clickHouse)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string? EverythingServer()
        => ChdbServer.ToolsDirectory() is { } tools
           && Path.Combine(tools, "..", "mcp-servers", "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js") is var path
           && File.Exists(path) ? Path.GetFullPath(path) : null;

    [Fact]
    public async Task McpToolCall_WithClickHouseStore_IsAuditedAndJoinsTheModelCallThatAskedForIt()
    {
        var everything = EverythingServer();
        Assert.SkipWhen(everything is null, "Run `npm ci --prefix tests/mcp-servers` first (.ci/run does).");
        var database = clickHouse.NewDatabase();
        await using var upstream = await FakeOpenAi.StartNewAsync();
        await using var gateway = await TestGateway.StartAsync($$"""
            {{AdminTracesTests.GatewayYaml(upstream)}}
            mcp:
              servers:
                everything: { transport: stdio, command: node, args: ["{{everything}}"] }
              rules:
                - { teams: [research], allow: ["*"] }
            """, traces: clickHouse.Require().Uri(database));
        const string key = "full-key-0123456789abcdef";
        var chat = new OpenAIClient(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(gateway.HttpBase, "/v1") }).GetChatClient("gpt-4o");
        var requestId = await AdminTracesTests.ChatAndWaitAsync(gateway, chat, "Which tool should I call?");

        await using (var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(gateway.HttpBase, "/mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + key },
        }), cancellationToken: Ct))
        {
            await client.CallToolAsync(new()
            {
                Name = "everything__echo",
                Arguments = new Dictionary<string, JsonElement> { ["message"] = JsonSerializer.SerializeToElement("from the model's tool call") },
                Meta = new JsonObject { ["request_id"] = requestId, ["tool_call_id"] = "call_ch_1", ["justification"] = "the model asked" },
            }, Ct);
        }

        using var admin = new HttpClient { BaseAddress = gateway.HttpBase };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", AdminTracesTests.AdminKey);
        JsonElement row;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            timeout.CancelAfter(TimeSpan.FromSeconds(15));
            while (true)
            {
                var calls = (await admin.GetFromJsonAsync<JsonElement>("/admin/v1/mcp/audit?tool=everything__echo", timeout.Token)).GetProperty("calls");
                if (calls.GetArrayLength() > 0)
                {
                    row = calls[0];
                    break;
                }
                await Task.Delay(TimeSpan.FromMilliseconds(50), timeout.Token);
            }
        }
        Assert.Equal("ok", row.GetProperty("outcome").GetString());
        Assert.Equal("full", row.GetProperty("principal").GetString());
        Assert.Equal(requestId, row.GetProperty("trace_id").GetString());

        await using var store = ClickHouseTraceStore.Open(clickHouse.Require().Uri(database), 30, TimeProvider.System);
        var joined = Assert.Single(await store.RawAsync("""
            SELECT a.principal AS principal, a.team AS team, toString(a.outcome) AS outcome, a.justification AS justification,
                   t.request_id AS request_id, t.served_model AS served_model
            FROM {database}.mcp_audit AS a FINAL
            LEFT JOIN {database}.traces AS t FINAL ON t.request_id = a.trace_id
            WHERE a.tool_call_id = 'call_ch_1'
            """, Ct));
        Assert.Equal("full", joined["principal"]);
        Assert.Equal("research", joined["team"]);
        Assert.Equal("ok", joined["outcome"]);
        Assert.Equal("the model asked", joined["justification"]);
        Assert.Equal(requestId, joined["request_id"]);
        Assert.Equal("gpt-4o", joined["served_model"]);
    }

    [Fact]
    public async Task Store_MixedBatch_TracesAndAuditRowsLandInTheirTablesOnceEvenWhenRetried()
    {
        await using var store = await clickHouse.NewStoreAsync();
        var traces = TraceData.Make(3, "mix");
        var audit = new Contracts.Traces.V1.McpAuditEvent
        {
            Id = "audit-1",
            Time = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(TraceData.Start),
            Principal = "agent-1",
            Server = "memory",
            Tool = "memory__create_entities",
            Outcome = "blocked",
            GuardPolicy = "strict",
            GuardAction = "block",
            GuardFindings = { new Contracts.Traces.V1.GuardFinding { EntityType = "SECRET", Count = 2, Action = "block", Direction = "input" } },
        };
        List<Contracts.Traces.V1.TraceEvent> batch = [.. traces, McpAuditEnvelope.Wrap(audit)];
        var token = Gateway.Traces.Ingest.TraceIngestor.BatchToken(batch);

        await store.WriteAsync(batch, token, Ct);
        await store.WriteAsync(batch, token, Ct);

        var rows = await store.QueryAuditAsync(new McpAuditFilter { Outcome = "blocked" }, Ct);
        Assert.Equal("audit-1", Assert.Single(rows).Id);
        Assert.Equal("SECRET", rows[0].GuardFindings[0].EntityType);
        var counts = Assert.Single(await store.RawAsync("SELECT (SELECT count() FROM {database}.mcp_audit) AS audits, (SELECT count() FROM {database}.traces) AS traces, (SELECT guard_findings['input:SECRET'] FROM {database}.mcp_audit) AS secrets", Ct));
        Assert.Equal(1L, Convert.ToInt64(counts["audits"], CultureInfo.InvariantCulture));
        Assert.Equal(3L, Convert.ToInt64(counts["traces"], CultureInfo.InvariantCulture));
        Assert.Equal(2L, Convert.ToInt64(counts["secrets"], CultureInfo.InvariantCulture));
    }
}
