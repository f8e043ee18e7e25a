using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Client;

namespace Gateway.Mcp.Tests;

// One gateway for the tests that share it: server-everything and server-memory over stdio, the fixture
// server, a virtual endpoint, analyst and admin rules, a rate limit and a short timeout on the fixture.
public sealed class GatewayFixture : IAsyncLifetime
{
    private readonly string _memoryFile = Path.Combine(Path.GetTempPath(), $"mcp-memory-{Guid.NewGuid():N}.jsonl");

    public TestGateway Gateway { get; private set; } = null!;

    public static string Yaml(string memoryFile) => $"""
        {McpServers.Keys}
        mcp:
          servers:
        {McpServers.Stdio("everything", McpServers.Everything)}
        {McpServers.Stdio("memory", McpServers.Memory, env: $"MEMORY_FILE_PATH: \"{memoryFile}\"")}
        {McpServers.Stdio("fixture", McpServers.Fixture, extra: ", timeout_seconds: 1")}
          virtual:
            everything-only: {"{"} servers: [everything], prefix: false {"}"}
          rules:
            - {"{"} roles: [analyst], allow: ["everything__*", "memory__read_*", "fixture__*"], deny: ["everything__args-prompt", "everything__Dynamic_Blob_Resource"], capabilities: [read] {"}"}
            - {"{"} roles: [admin], allow: ["*"] {"}"}
          rate_limits:
            - {"{"} roles: [analyst], tool: "everything__get-sum", per_minute: 2 {"}"}
        """;

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(McpServers.Everything))
        {
            return;
        }
        Gateway = await TestGateway.StartAsync(Yaml(_memoryFile));
    }

    public async ValueTask DisposeAsync()
    {
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }
        File.Delete(_memoryFile);
    }
}

public sealed class McpGatewayTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Text(ModelContextProtocol.Protocol.CallToolResult result)
        => string.Concat(result.Content.OfType<ModelContextProtocol.Protocol.TextContentBlock>().Select(t => t.Text));

    [Fact]
    public async Task ToolsList_Admin_AggregatesEveryUpstreamUnderNamespacedNames()
    {
        McpServers.Require();
        await using var client = await McpServers.ConnectAsync(fixture.Gateway, McpServers.AdminRoleKey);

        var names = (await client.ListToolsAsync(cancellationToken: Ct)).Select(t => t.Name).ToList();

        Assert.Contains("everything__echo", names);
        Assert.Contains("everything__trigger-long-running-operation", names);
        Assert.Contains("memory__create_entities", names);
        Assert.Contains("memory__read_graph", names);
        Assert.Contains("fixture__notes", names);
        Assert.All(names, n => Assert.Matches("^[a-zA-Z0-9_-]{1,64}$", n));
    }

    [Fact]
    public async Task ToolsCall_Namespaced_RoutesToTheRightUpstream()
    {
        McpServers.Require();
        await using var client = await McpServers.ConnectAsync(fixture.Gateway, McpServers.AdminRoleKey);

        var echo = await client.CallToolAsync("everything__echo", new Dictionary<string, object?> { ["message"] = "hello gateway" }, cancellationToken: Ct);
        await client.CallToolAsync("memory__create_entities", new Dictionary<string, object?>
        {
            ["entities"] = new[] { new { name = "gateway", entityType = "service", observations = new[] { "routes tools" } } },
        }, cancellationToken: Ct);
        var graph = await client.CallToolAsync("memory__read_graph", cancellationToken: Ct);

        Assert.Contains("hello gateway", Text(echo));
        Assert.Contains("routes tools", Text(graph) + JsonSerializer.Serialize(graph.StructuredContent));
    }

    [Fact]
    public async Task ToolsList_Analyst_ShowsOnlyGrantedReadTools()
    {
        McpServers.Require();
        await using var client = await McpServers.ConnectAsync(fixture.Gateway, McpServers.AnalystKey);

        var names = (await client.ListToolsAsync(cancellationToken: Ct)).Select(t => t.Name).ToList();

        Assert.Contains("everything__echo", names);
        Assert.Contains("memory__read_graph", names);
        Assert.DoesNotContain("memory__create_entities", names);   // not granted by name
        Assert.DoesNotContain("memory__search_nodes", names);      // not granted by name
        Assert.DoesNotContain("fixture__wipe", names);             // granted by name, but destructive
        Assert.DoesNotContain("everything__trigger-sampling-request", names); // may write
    }

    [Fact]
    public async Task ToolsCall_Denied_ReturnsJsonRpcErrorAndIsAudited()
    {
        McpServers.Require();
        await using var client = await McpServers.ConnectAsync(fixture.Gateway, McpServers.AnalystKey);

        var error = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("fixture__wipe", cancellationToken: Ct).AsTask());

        Assert.Equal(McpGateway.DeniedCode, (int)error.ErrorCode);
        var rows = await McpServers.AuditAsync(fixture.Gateway, "?tool=fixture__wipe&outcome=denied");
        var row = Assert.Single(rows.EnumerateArray());
        Assert.Equal("analyst-1", row.GetProperty("principal").GetString());
        Assert.Equal("support", row.GetProperty("team").GetString());
        Assert.Equal("fixture", row.GetProperty("server").GetString());
    }

    [Fact]
    public async Task ToolsCall_UnknownTool_IsDeniedLikeAForbiddenOne()
    {
        McpServers.Require();
        await using var client = await McpServers.ConnectAsync(fixture.Gateway, McpServers.AdminRoleKey);

        var error = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("nothing__here", cancellationToken: Ct).AsTask());

        Assert.Equal(McpGateway.DeniedCode, (int)error.ErrorCode);
    }

    [Fact]
    public async Task ToolsCall_OverPerMinuteLimit_IsRateLimitedAndAudited()
    {
        McpServers.Require();
        await using var client = await McpServers.ConnectAsync(fixture.Gateway, McpServers.AnalystKey);
        var arguments = new Dictionary<string, object?> { ["a"] = 1, ["b"] = 2 };

        await client.CallToolAsync("everything__get-sum", arguments, cancellationToken: Ct);
        await client.CallToolAsync("everything__get-sum", arguments, cancellationToken: Ct);
        var error = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("everything__get-sum", arguments, cancellationToken: Ct).AsTask());

        Assert.Equal(McpGateway.RateLimitedCode, (int)error.ErrorCode);
        var rows = await McpServers.AuditAsync(fixture.Gateway, "?tool=everything__get-sum", minimum: 3);
        Assert.Equal(["rate_limited", "ok", "ok"], rows.EnumerateArray().Select(r => r.GetProperty("outcome").GetString()!).ToArray());
    }

    [Fact]
    public async Task Audit_EveryOutcome_IsRecordedWithIdentityClientAndJustification()
    {
        McpServers.Require();
        await using var client = await McpServers.ConnectAsync(fixture.Gateway, McpServers.AnalystKey);
        var meta = new System.Text.Json.Nodes.JsonObject { ["justification"] = "customer asked for notes", ["tool_call_id"] = "call_abc123" };

        await client.CallToolAsync(new() { Name = "fixture__notes", Arguments = Args(new { password = "hunter2", q = "x" }), Meta = meta }, Ct);
        await client.CallToolAsync(new() { Name = "fixture__fail" }, Ct);
        await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync(new() { Name = "fixture__sleep", Arguments = Args(new { ms = 10_000 }) }, Ct).AsTask());

        // The timed-out call was audited last: once it is stored, the others are too.
        await McpServers.AuditAsync(fixture.Gateway, "?principal=analyst-1&tool=fixture__sleep");
        var rows = (await McpServers.AuditAsync(fixture.Gateway, "?principal=analyst-1&server=fixture")).EnumerateArray().ToList();
        var ok = rows.Single(r => r.GetProperty("tool").GetString() == "fixture__notes");
        Assert.Equal("ok", ok.GetProperty("outcome").GetString());
        Assert.Equal("customer asked for notes", ok.GetProperty("justification").GetString());
        Assert.Equal("call_abc123", ok.GetProperty("tool_call_id").GetString());
        Assert.Equal("gateway-tests", ok.GetProperty("client_name").GetString());
        Assert.Equal("9.9.9", ok.GetProperty("client_version").GetString());
        Assert.False(string.IsNullOrEmpty(ok.GetProperty("session").GetString()));
        Assert.Contains("\"***\"", ok.GetProperty("arguments").GetString());
        Assert.DoesNotContain("hunter2", ok.GetProperty("arguments").GetString());
        Assert.True(ok.GetProperty("result_bytes").GetInt64() > 0);
        Assert.Equal("error", rows.Single(r => r.GetProperty("tool").GetString() == "fixture__fail").GetProperty("outcome").GetString());
        Assert.Equal("timeout", rows.Single(r => r.GetProperty("tool").GetString() == "fixture__sleep").GetProperty("outcome").GetString());
    }

    [Fact]
    public async Task VirtualServer_Unprefixed_ExposesOnlyItsServerUnderUpstreamNames()
    {
        McpServers.Require();
        await using var client = await McpServers.ConnectAsync(fixture.Gateway, McpServers.AdminRoleKey, "/mcp/everything-only");

        var names = (await client.ListToolsAsync(cancellationToken: Ct)).Select(t => t.Name).ToList();
        var echo = await client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "virtual" }, cancellationToken: Ct);

        Assert.Contains("echo", names);
        Assert.DoesNotContain(names, n => n.Contains("__", StringComparison.Ordinal));
        Assert.DoesNotContain("read_graph", names);
        Assert.Contains("virtual", Text(echo));
    }

    // Read from the wire: the SDK client dispatches notifications concurrently and drops progress that it
    // handles after the result, so only the raw SSE stream shows the order the gateway sent.
    [Fact]
    public async Task Progress_FromUpstream_ArrivesOnTheWireInOrderBeforeTheResult()
    {
        McpServers.Require();
        var messages = await RawCallAsync("""{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"everything__trigger-long-running-operation","arguments":{"duration":0.5,"steps":5},"_meta":{"progressToken":"p-1"}}}""");

        var progress = messages.Where(m => m.TryGetProperty("method", out var method) && method.GetString() == "notifications/progress").ToList();
        Assert.Equal([1, 2, 3, 4, 5], progress.Select(m => m.GetProperty("params").GetProperty("progress").GetInt32()).ToArray());
        Assert.All(progress, m => Assert.Equal("p-1", m.GetProperty("params").GetProperty("progressToken").GetString()));
        Assert.Contains("completed", messages[^1].GetProperty("result").GetRawText());
    }

    [Fact]
    public async Task Logging_FromUpstreamDuringACall_ArrivesOnTheWireInOrderBeforeTheResult()
    {
        McpServers.Require();
        var messages = await RawCallAsync("""{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"fixture__chatty","arguments":{}}}""");

        var logs = messages.Where(m => m.TryGetProperty("method", out var method) && method.GetString() == "notifications/message").ToList();
        Assert.Equal(["step 1", "step 2", "step 3"], logs.Select(m => m.GetProperty("params").GetProperty("data").GetString()!).ToArray());
        Assert.Contains("done", messages[^1].GetProperty("result").GetRawText());
    }

    // One tools/call over raw Streamable HTTP; the messages of its SSE response in wire order, the result last.
    private async Task<List<JsonElement>> RawCallAsync(string call)
    {
        using var http = new HttpClient { BaseAddress = fixture.Gateway.HttpBase };
        http.DefaultRequestHeaders.Authorization = new("Bearer", McpServers.AdminRoleKey);
        http.DefaultRequestHeaders.Accept.ParseAdd("application/json, text/event-stream");
        using var initialize = await http.PostAsync("/mcp", Json("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"""), Ct);
        initialize.EnsureSuccessStatusCode();
        http.DefaultRequestHeaders.Add("Mcp-Session-Id", initialize.Headers.GetValues("Mcp-Session-Id").Single());
        http.DefaultRequestHeaders.Add("MCP-Protocol-Version", "2025-06-18");
        using var initialized = await http.PostAsync("/mcp", Json("""{"jsonrpc":"2.0","method":"notifications/initialized"}"""), Ct);
        using var response = await http.PostAsync("/mcp", Json(call), Ct);
        var messages = new List<JsonElement>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Ct));
        while (await reader.ReadLineAsync(Ct) is { } line)
        {
            if (line.StartsWith("data:", StringComparison.Ordinal) && line.Length > 5)
            {
                var message = JsonSerializer.Deserialize<JsonElement>(line[5..]);
                messages.Add(message);
                if (message.TryGetProperty("id", out _))
                {
                    break;
                }
            }
        }
        return messages;
    }

    private static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");

    [Fact]
    public async Task Sampling_FromUpstream_IsRelayedToTheCallingClient()
    {
        McpServers.Require();
        var options = new McpClientOptions
        {
            Handlers = new McpClientHandlers
            {
                SamplingHandler = (request, _, _) => ValueTask.FromResult(new ModelContextProtocol.Protocol.CreateMessageResult
                {
                    Model = "test-model",
                    Role = ModelContextProtocol.Protocol.Role.Assistant,
                    Content = [new ModelContextProtocol.Protocol.TextContentBlock { Text = "sampled by the downstream client" }],
                }),
            },
        };
        await using var client = await McpServers.ConnectAsync(fixture.Gateway, McpServers.AdminRoleKey, options: options);

        var result = await client.CallToolAsync("everything__trigger-sampling-request", new Dictionary<string, object?> { ["prompt"] = "hi" }, cancellationToken: Ct);

        Assert.Contains("sampled by the downstream client", Text(result));
    }

    [Fact]
    public async Task Elicitation_FromUpstream_IsRelayedToTheCallingClient()
    {
        McpServers.Require();
        var asked = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new McpClientOptions
        {
            Capabilities = new ModelContextProtocol.Protocol.ClientCapabilities { Elicitation = new() { Form = new() } },
            Handlers = new McpClientHandlers
            {
                ElicitationHandler = (request, _) =>
                {
                    asked.TrySetResult(request?.Message);
                    return ValueTask.FromResult(new ModelContextProtocol.Protocol.ElicitResult { Action = "decline" });
                },
            },
        };
        await using var client = await McpServers.ConnectAsync(fixture.Gateway, McpServers.AdminRoleKey, options: options);

        var result = await client.CallToolAsync("everything__trigger-elicitation-request", cancellationToken: Ct);

        Assert.False(string.IsNullOrEmpty(await asked.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct)));
        Assert.Contains("declined", Text(result));
    }

    [Fact]
    public async Task Admin_Servers_ShowHealthAndCatalogue()
    {
        McpServers.Require();
        using var http = McpServers.Admin(fixture.Gateway);

        var servers = (await System.Net.Http.Json.HttpClientJsonExtensions.GetFromJsonAsync<JsonElement>(http, "/admin/v1/mcp/servers", Ct)).GetProperty("servers");

        var everything = servers.EnumerateArray().Single(s => s.GetProperty("name").GetString() == "everything");
        Assert.Equal("healthy", everything.GetProperty("state").GetString());
        Assert.Contains(everything.GetProperty("tools").EnumerateArray(), t => t.GetProperty("name").GetString() == "everything__echo" && t.GetProperty("capability").GetString() == "read");
        Assert.NotEmpty(everything.GetProperty("prompts").EnumerateArray());
    }

    [Fact]
    public async Task Admin_WithoutAdminKey_Is401()
    {
        McpServers.Require();
        using var http = new HttpClient { BaseAddress = fixture.Gateway.HttpBase };
        http.DefaultRequestHeaders.Authorization = new("Bearer", McpServers.AdminRoleKey);

        using var response = await http.GetAsync("/admin/v1/mcp/audit", Ct);

        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Mcp_WithoutCredentials_Is401PointingToResourceMetadata()
    {
        McpServers.Require();
        using var http = new HttpClient { BaseAddress = fixture.Gateway.HttpBase };

        using var response = await http.PostAsync("/mcp", new StringContent("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""", System.Text.Encoding.UTF8, "application/json"), Ct);
        var metadata = await System.Net.Http.Json.HttpClientJsonExtensions.GetFromJsonAsync<JsonElement>(http, "/.well-known/oauth-protected-resource", Ct);

        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains($"resource_metadata=\"{fixture.Gateway.HttpBase.ToString().TrimEnd('/')}/.well-known/oauth-protected-resource\"", response.Headers.WwwAuthenticate.ToString());
        Assert.Equal(fixture.Gateway.HttpBase.ToString().TrimEnd('/') + "/mcp", metadata.GetProperty("resource").GetString());
    }

    [Theory]
    [InlineData("GET", "/mcp")]
    [InlineData("DELETE", "/mcp")]
    [InlineData("POST", "/mcp/everything-only")]
    [InlineData("GET", "/mcp/everything-only")]
    public async Task Mcp_EveryMethodAndEndpointWithoutCredentials_Is401(string method, string path)
    {
        McpServers.Require();
        using var http = new HttpClient { BaseAddress = fixture.Gateway.HttpBase };
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Add("Mcp-Session-Id", "some-session");
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        if (method == "POST")
        {
            request.Content = Json("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""");
        }

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);

        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Mcp_UnknownVirtualServer_Is404()
    {
        McpServers.Require();
        using var http = new HttpClient { BaseAddress = fixture.Gateway.HttpBase };
        http.DefaultRequestHeaders.Authorization = new("Bearer", McpServers.AdminRoleKey);

        using var response = await http.PostAsync("/mcp/nope", Json("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}"""), Ct);

        Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Mcp_ForeignOrigin_Is403()
    {
        McpServers.Require();
        using var http = new HttpClient { BaseAddress = fixture.Gateway.HttpBase };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/mcp")
        {
            Content = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", McpServers.AdminRoleKey);
        request.Headers.Add("Origin", "http://attacker.example");

        using var response = await http.SendAsync(request, Ct);

        Assert.Equal(System.Net.HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task Mcp_ForeignHost_Is403()
    {
        McpServers.Require();
        using var http = new HttpClient { BaseAddress = fixture.Gateway.HttpBase };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/mcp")
        {
            Content = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", McpServers.AdminRoleKey);
        request.Headers.Host = "rebound.attacker.example";

        using var response = await http.SendAsync(request, Ct);

        Assert.Equal(System.Net.HttpStatusCode.Forbidden, response.StatusCode);
    }

    internal static IDictionary<string, JsonElement> Args(object value)
        => JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(JsonSerializer.Serialize(value))!;
}
