using System.Net.Http.Headers;
using static Gateway.Functional.Tests.BadInput.HostileCases;

namespace Gateway.Functional.Tests.BadInput;

// The hostile-input battery (HostileCases) against every JSON surface: each case is a 4xx in the surface's own
// error shape, the upstream sees no call, budgets, prompts and MCP servers are unchanged, nothing is traced,
// and the next good request is served.
[Collection(HostileCollection.Name)]
public sealed class JsonSurfaceHostileInputTests(HostileGateway fixture)
{
    private const string Message = """{"role":"user","content":"hi"}""";

    public static readonly JsonSurface OpenAiChat = new("openai chat", HttpMethod.Post, "/v1/chat/completions",
    [
        new("model", "\"gpt-4o\"", [.. WrongTypes("\"\""), "\"\""]),
        new("messages", $"[{Message}]", [.. WrongTypes("[]"), "[5]", """[{"role":"wizard","content":"x"}]""", """[{"role":"user","content":{"a":1}}]"""]),
        new("max_tokens", "16", [.. HugeNumbers, "-1", "0", "1.5", "\"16\""]),
        new("temperature", "0.5", [.. HugeNumbers, "-0.1", "2.5"]),
        new("stream", "false", WrongTypes("false")),
        new("tools", """[{"type":"function","function":{"name":"lookup","parameters":{"type":"object"}}}]""",
            [.. WrongTypes("[]"), "[5]", """[{"type":"function","function":{"name":"bad name"}}]""", """[{"type":"function","function":{"name":"x","parameters":"{"}}]"""]),
        new("metadata", """{"k":"v"}""", [.. WrongTypes("{}"), """{"k":1}"""]),
    ])
    { NameField = "model", MessagesField = "messages", Message = Message, ToolsField = "tools", Tool = """{"type":"function","function":{"name":"lookup"}}""" };

    public static readonly JsonSurface OpenAiEmbeddings = new("openai embeddings", HttpMethod.Post, "/v1/embeddings",
    [
        new("model", "\"text-embedding-3-small\"", WrongTypes("\"\"")),
        new("input", "\"hello\"", ["5", "{}", "true", "[[]]", "[{}]", "[]"]),
        new("encoding_format", "\"float\"", [.. WrongTypes("\"\""), "\"hex\""]),
        new("dimensions", "8", [.. HugeNumbers, "-1", "0", "1.5"]),
    ])
    { NameField = "model" };

    public static readonly JsonSurface Responses = new("openai responses", HttpMethod.Post, "/v1/responses",
    [
        new("model", "\"gpt-4o\"", WrongTypes("\"\"")),
        new("input", $"[{Message}]", ["5", "{}", "true", "[5]", """[{"role":"wizard","content":"x"}]"""]),
        new("max_output_tokens", "16", [.. HugeNumbers, "-1", "0", "1.5"]),
        new("temperature", "0.5", [.. HugeNumbers, "-1", "3"]),
        new("stream", "false", WrongTypes("false")),
        new("tools", """[{"type":"function","name":"lookup","parameters":{"type":"object"}}]""", [.. WrongTypes("[]"), "[5]"]),
    ])
    { NameField = "model", MessagesField = "input", Message = Message, ToolsField = "tools", Tool = """{"type":"function","name":"lookup"}""" };

    public static readonly JsonSurface AnthropicMessages = new("anthropic messages", HttpMethod.Post, "/v1/messages",
    [
        new("model", "\"gpt-4o\"", WrongTypes("\"\"")),
        new("max_tokens", "16", [.. HugeNumbers, "-1", "0", "1.5"]),
        new("messages", $"[{Message}]", [.. WrongTypes("[]"), "[5]", """[{"role":"user","content":5}]"""]),
        new("system", "\"be brief\"", ["5", "{}", "true", "[5]"]),
        new("temperature", "0.5", [.. HugeNumbers, "-1", "1.5"]),
        new("top_k", "5", [.. HugeNumbers, "-1", "1.5"]),
        new("stream", "false", WrongTypes("false")),
        new("tools", """[{"name":"lookup","input_schema":{"type":"object"}}]""", [.. WrongTypes("[]"), "[5]", """[{"name":"bad name!","input_schema":{}}]"""]),
    ])
    { NameField = "model", MessagesField = "messages", Message = Message, ToolsField = "tools", Tool = """{"name":"lookup","input_schema":{"type":"object"}}""" };

    public static readonly JsonSurface GuardScan = new("admin guard scan", HttpMethod.Post, "/admin/v1/guard/scan",
    [
        new("text", "\"hello\"", WrongTypes("\"\"")),
        new("output", "false", WrongTypes("false")),
        new("team", "\"qa\"", WrongTypes("\"\"")),
    ]);

    public static readonly JsonSurface PromptVersion = new("admin prompt version", HttpMethod.Post, "/admin/v1/prompts/hostile/versions",
    [
        new("type", "\"chat\"", [.. WrongTypes("\"\""), "\"video\""]),
        new("messages", $"[{Message}]", [.. WrongTypes("[]"), "[5]", """[{"role":"wizard","content":"x"}]"""]),
        new("model", "\"gpt-4o\"", WrongTypes("\"\"")),
        new("temperature", "0.5", [.. HugeNumbers, "-1", "3"]),
        new("max_tokens", "16", [.. HugeNumbers, "-1", "0", "1.5"]),
        new("message", "\"hostile\"", WrongTypes("\"\"")),
    ])
    { NameField = "model", MessagesField = "messages", Message = Message };

    public static readonly JsonSurface PromptLabel = new("admin prompt label", HttpMethod.Put, "/admin/v1/prompts/hostile/labels/staging",
    [
        new("version", "1", [.. WrongTypes("1"), .. HugeNumbers, "0", "-1", "1.5", "99"]),
    ]);

    public static readonly JsonSurface PromptExperiment = new("admin prompt experiment", HttpMethod.Post, "/admin/v1/prompts/hostile/experiments",
    [
        new("id", "\"exp\"", WrongTypes("\"\"")),
        new("label", "\"staging\"", WrongTypes("\"\"")),
        new("arms", """[{"name":"a","version":1,"weight":50},{"name":"b","version":1,"weight":50}]""",
            [.. WrongTypes("[]"), "[5]", """[{"name":"a","version":"1"}]""", """[{"name":"a","version":1e400},{"name":"b","version":1}]""", """[{"name":"a","version":1,"weight":-5},{"name":"b","version":1,"weight":1e400}]"""]),
    ]);

    public static readonly JsonSurface BudgetAdjustment = new("admin budget adjustment", HttpMethod.Post, "/admin/v1/budgets/hostile/adjustments",
    [
        new("amount_usd", "1", [.. WrongTypes("1"), .. HugeNumbers]),
    ]);

    public static readonly JsonSurface McpServerRegistration = new("admin mcp servers", HttpMethod.Post, "/admin/v1/mcp/servers",
    [
        new("name", "\"srv\"", WrongTypes("\"\"")),
        new("transport", "\"streamable-http\"", [.. WrongTypes("\"\""), "\"carrier-pigeon\""]),
        new("url", "\"http://127.0.0.1:9/mcp\"", [.. WrongTypes("\"\""), "\"file:///etc/passwd\"", "\"not a url\""]),
        new("timeout_seconds", "5", [.. HugeNumbers, "-1", "0"]),
    ])
    { NameField = "name" };

    public static readonly JsonSurface Mcp = new("mcp json-rpc", HttpMethod.Post, "/mcp",
    [
        new("jsonrpc", "\"2.0\"", [.. WrongTypes("\"\""), "\"1.0\""]),
        new("id", "1", ["{}", "[]", "true"]),
        new("method", "\"initialize\"", ["5", "{}", "[]"]),
        new("params", """{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"hostile","version":"1"}}""", ["\"x\"", "5", "[]"]),
    ])
    { NameField = "method" };

    public static TheoryData<string> CasesOf(string surface) => [.. Names(Surfaces[surface].Surface)];

    private static readonly Dictionary<string, (JsonSurface Surface, Action<HttpRequestMessage> Authorize, Func<HttpResponseMessage, Task> AssertShape)> Surfaces = new()
    {
        ["openai-chat"] = (OpenAiChat, Bearer(TestGateway.DefaultKey), HostileGateway.AssertOpenAiShapeAsync),
        ["openai-embeddings"] = (OpenAiEmbeddings, Bearer(TestGateway.DefaultKey), HostileGateway.AssertOpenAiShapeAsync),
        ["responses"] = (Responses, Bearer(TestGateway.DefaultKey), HostileGateway.AssertOpenAiShapeAsync),
        ["anthropic"] = (AnthropicMessages, AnthropicHeaders, HostileGateway.AssertAnthropicShapeAsync),
        ["guard-scan"] = (GuardScan, Bearer(HostileGateway.AdminKey), HostileGateway.AssertOpenAiShapeAsync),
        ["prompt-version"] = (PromptVersion, Bearer(HostileGateway.AdminKey), HostileGateway.AssertOpenAiShapeAsync),
        ["prompt-label"] = (PromptLabel, Bearer(HostileGateway.AdminKey), HostileGateway.AssertOpenAiShapeAsync),
        ["prompt-experiment"] = (PromptExperiment, Bearer(HostileGateway.AdminKey), HostileGateway.AssertOpenAiShapeAsync),
        ["budget-adjustment"] = (BudgetAdjustment, Bearer(HostileGateway.AdminKey), HostileGateway.AssertOpenAiShapeAsync),
        ["mcp-servers"] = (McpServerRegistration, Bearer(HostileGateway.AdminKey), HostileGateway.AssertOpenAiShapeAsync),
        ["mcp"] = (Mcp, McpHeaders, HostileGateway.AssertJsonRpcShapeAsync),
    };

    [Theory]
    [MemberData(nameof(CasesOf), "openai-chat")]
    public Task OpenAiChat_HostileBody_Is4xxAndChangesNothing(string caseName) => RunAsync("openai-chat", caseName);

    [Theory]
    [MemberData(nameof(CasesOf), "openai-embeddings")]
    public Task OpenAiEmbeddings_HostileBody_Is4xxAndChangesNothing(string caseName) => RunAsync("openai-embeddings", caseName);

    [Theory]
    [MemberData(nameof(CasesOf), "responses")]
    public Task Responses_HostileBody_Is4xxAndChangesNothing(string caseName) => RunAsync("responses", caseName);

    [Theory]
    [MemberData(nameof(CasesOf), "anthropic")]
    public Task AnthropicMessages_HostileBody_Is4xxAndChangesNothing(string caseName) => RunAsync("anthropic", caseName);

    [Theory]
    [MemberData(nameof(CasesOf), "guard-scan")]
    public Task AdminGuardScan_HostileBody_Is4xxAndChangesNothing(string caseName) => RunAsync("guard-scan", caseName);

    [Theory]
    [MemberData(nameof(CasesOf), "prompt-version")]
    public Task AdminPromptVersion_HostileBody_Is4xxAndChangesNothing(string caseName) => RunAsync("prompt-version", caseName);

    [Theory]
    [MemberData(nameof(CasesOf), "prompt-label")]
    public Task AdminPromptLabel_HostileBody_Is4xxAndChangesNothing(string caseName) => RunAsync("prompt-label", caseName);

    [Theory]
    [MemberData(nameof(CasesOf), "prompt-experiment")]
    public Task AdminPromptExperiment_HostileBody_Is4xxAndChangesNothing(string caseName) => RunAsync("prompt-experiment", caseName);

    [Theory]
    [MemberData(nameof(CasesOf), "budget-adjustment")]
    public Task AdminBudgetAdjustment_HostileBody_Is4xxAndChangesNothing(string caseName) => RunAsync("budget-adjustment", caseName);

    [Theory]
    [MemberData(nameof(CasesOf), "mcp-servers")]
    public Task AdminMcpServers_HostileBody_Is4xxAndChangesNothing(string caseName) => RunAsync("mcp-servers", caseName);

    [Theory]
    [MemberData(nameof(CasesOf), "mcp")]
    public Task Mcp_HostileBody_Is4xxAndChangesNothing(string caseName) => RunAsync("mcp", caseName);

    private async Task RunAsync(string surfaceName, string caseName)
    {
        var (surface, authorize, assertShape) = Surfaces[surfaceName];
        var hostile = Build(surface, caseName);
        var before = await fixture.SnapshotAsync();
        var since = TimeProvider.System.GetUtcNow().AddMilliseconds(-1);

        var response = await fixture.SendAsync(surface.Method, surface.Path, hostile, authorize);

        var status = (int)response.StatusCode;
        Assert.True(status is >= 400 and < 500, $"{surface.Name} / {caseName}: HTTP {status}: {await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)}");
        if (hostile.Status is { } expected)
        {
            Assert.Equal(expected, status);
        }
        await assertShape(response);
        Assert.Equal(before, await fixture.SnapshotAsync());
        await fixture.ProbeAsync(since);
    }

    private static Action<HttpRequestMessage> Bearer(string key) => request => request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);

    private static void AnthropicHeaders(HttpRequestMessage request)
    {
        request.Headers.Add("x-api-key", TestGateway.DefaultKey);
        request.Headers.Add("anthropic-version", "2023-06-01");
    }

    private static void McpHeaders(HttpRequestMessage request)
    {
        Bearer(TestGateway.DefaultKey)(request);
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");
    }
}
