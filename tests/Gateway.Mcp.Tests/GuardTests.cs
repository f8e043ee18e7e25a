using System.Text.Json;
using Gateway.Mcp.Audit;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace Gateway.Mcp.Tests;

// Tool arguments and results through the guard, with a policy per key as on the LLM routes:
// strict (redact, SECRET blocked, results redacted), pseudonymise, and results-only.
public sealed class GuardFixture : IAsyncLifetime
{
    public const string StrictKey = "strict-key-0123456789abcdef";
    public const string PseudoKey = "pseudo-key-0123456789abcdef";
    public const string OutputKey = "output-key-0123456789abcdef";

    public string MemoryFile { get; } = Path.Combine(Path.GetTempPath(), $"mcp-guard-memory-{Guid.NewGuid():N}.jsonl");

    public TestGateway Gateway { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(McpServers.Everything))
        {
            return;
        }
        Gateway = await TestGateway.StartAsync($"""
            keys:
              - {"{"} name: strict-1, key: "{StrictKey}", team: support, roles: [admin] {"}"}
              - {"{"} name: pseudo-1, key: "{PseudoKey}", team: support, roles: [admin] {"}"}
              - {"{"} name: output-1, key: "{OutputKey}", team: support, roles: [admin] {"}"}
            guard:
              policies:
                strict:
                  entities: {"{"} default: redact, SECRET: block {"}"}
                  output: {"{"} default: redact {"}"}
                pseudo:
                  entities: {"{"} default: pseudonymize {"}"}
                results:
                  entities: {"{"} default: allow {"}"}
                  output: {"{"} default: redact {"}"}
              assign:
                - {"{"} scope: {"{"} key: pseudo-1 {"}"}, policy: pseudo {"}"}
                - {"{"} scope: {"{"} key: output-1 {"}"}, policy: results {"}"}
                - {"{"} scope: {"{"}{"}"}, policy: strict {"}"}
            mcp:
              servers:
            {McpServers.Stdio("everything", McpServers.Everything)}
            {McpServers.Stdio("memory", McpServers.Memory, env: $"MEMORY_FILE_PATH: \"{MemoryFile}\"")}
              rules:
                - {"{"} roles: [admin], allow: ["*"] {"}"}
            """);
    }

    public async ValueTask DisposeAsync()
    {
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }
        File.Delete(MemoryFile);
    }
}

public sealed class GuardTests(GuardFixture fixture) : IClassFixture<GuardFixture>
{
    private const string Email = "jane.doe@example.com";
    // A GitHub token shape (not a real token).
    private const string Token = "ghp_Zq8v3LkR9sT2wX5yB7nM4pQ6dF1hJ0cV8aE3";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Text(CallToolResult result) => string.Concat(result.Content.OfType<TextContentBlock>().Select(t => t.Text));

    [Fact]
    public async Task ToolsCall_EmailInArguments_IsRedactedBeforeTheUpstreamAndAudited()
    {
        McpServers.Require();
        await using var client = await McpServers.ConnectAsync(fixture.Gateway, GuardFixture.StrictKey);

        var echo = await client.CallToolAsync("everything__echo", new Dictionary<string, object?> { ["message"] = $"write to {Email} today" }, cancellationToken: Ct);

        // The echo tool answers with what it received: the mask, not the address.
        Assert.Contains("write to [EMAIL] today", Text(echo));
        Assert.DoesNotContain(Email, Text(echo));
        var row = Assert.Single((await McpServers.AuditAsync(fixture.Gateway, "?principal=strict-1&tool=everything__echo")).EnumerateArray());
        Assert.Equal("ok", row.GetProperty("outcome").GetString());
        Assert.Equal("strict", row.GetProperty("guard_policy").GetString());
        Assert.Equal("redact", row.GetProperty("guard_action").GetString());
        var finding = Assert.Single(row.GetProperty("guard_findings").EnumerateArray());
        Assert.Equal("EMAIL", finding.GetProperty("type").GetString());
        Assert.Equal(1, finding.GetProperty("count").GetInt32());
        Assert.Equal("input", finding.GetProperty("direction").GetString());
        Assert.Contains("[EMAIL]", row.GetProperty("arguments").GetString());
        Assert.DoesNotContain(Email, row.GetRawText());
    }

    [Fact]
    public async Task ToolsCall_SecretInArguments_IsBlockedWithAClearErrorAndAudited()
    {
        McpServers.Require();
        await using var client = await McpServers.ConnectAsync(fixture.Gateway, GuardFixture.StrictKey);

        var error = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("memory__create_entities", new Dictionary<string, object?>
        {
            ["entities"] = new[] { new { name = "deploy", entityType = "secret", observations = new[] { "token " + Token } } },
        }, cancellationToken: Ct).AsTask());

        Assert.Equal(McpGuard.BlockedCode, (int)error.ErrorCode);
        Assert.Contains("SECRET", error.Message);
        Assert.Contains("strict", error.Message);
        Assert.DoesNotContain(Token, error.Message);
        // server-memory never saw the call: nothing was written.
        Assert.False(File.Exists(fixture.MemoryFile) && (await File.ReadAllTextAsync(fixture.MemoryFile, Ct)).Contains("deploy", StringComparison.Ordinal));
        var row = Assert.Single((await McpServers.AuditAsync(fixture.Gateway, "?principal=strict-1&outcome=blocked")).EnumerateArray());
        Assert.Equal("memory__create_entities", row.GetProperty("tool").GetString());
        Assert.Equal("block", row.GetProperty("guard_action").GetString());
        Assert.Contains(row.GetProperty("guard_findings").EnumerateArray(), f => f.GetProperty("type").GetString() == "SECRET" && f.GetProperty("action").GetString() == "block");
        Assert.DoesNotContain(Token, row.GetRawText());
    }

    [Fact]
    public async Task ToolsCall_Pseudonymize_UpstreamStoresThePlaceholderAndTheAgentGetsItsValueBack()
    {
        McpServers.Require();
        await using var client = await McpServers.ConnectAsync(fixture.Gateway, GuardFixture.PseudoKey);

        await client.CallToolAsync("memory__create_entities", new Dictionary<string, object?>
        {
            ["entities"] = new[] { new { name = "customer", entityType = "person", observations = new[] { "reach at " + Email } } },
        }, cancellationToken: Ct);
        var echo = await client.CallToolAsync("everything__echo", new Dictionary<string, object?> { ["message"] = "mail " + Email }, cancellationToken: Ct);

        // What server-memory persisted is what it received.
        var stored = await File.ReadAllTextAsync(fixture.MemoryFile, Ct);
        Assert.Contains("reach at <EMAIL_1>", stored);
        Assert.DoesNotContain(Email, stored);
        // The echo came back with the placeholder, which the gateway restored for the agent.
        Assert.Contains("mail " + Email, Text(echo));
    }

    [Fact]
    public async Task ToolsCall_PiiInTheResult_IsRedactedBeforeTheAgent()
    {
        McpServers.Require();
        await using var client = await McpServers.ConnectAsync(fixture.Gateway, GuardFixture.OutputKey);
        await client.CallToolAsync("memory__create_entities", new Dictionary<string, object?>
        {
            ["entities"] = new[] { new { name = "supplier", entityType = "company", observations = new[] { "billing " + "ap@supplier.example.org" } } },
        }, cancellationToken: Ct);

        var graph = await client.CallToolAsync("memory__search_nodes", new Dictionary<string, object?> { ["query"] = "supplier" }, cancellationToken: Ct);

        var seen = Text(graph) + JsonSerializer.Serialize(graph.StructuredContent);
        Assert.Contains("billing [EMAIL]", seen);
        Assert.DoesNotContain("ap@supplier.example.org", seen);
        var row = (await McpServers.AuditAsync(fixture.Gateway, "?principal=output-1&tool=memory__search_nodes")).EnumerateArray().Single();
        Assert.Contains(row.GetProperty("guard_findings").EnumerateArray(), f => f.GetProperty("type").GetString() == "EMAIL" && f.GetProperty("direction").GetString() == "output");
    }
}
