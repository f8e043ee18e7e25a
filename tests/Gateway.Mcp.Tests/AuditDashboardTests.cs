using System.Diagnostics;
using System.Text.Json;

namespace Gateway.Mcp.Tests;

// The MCP audit page of the dashboard in real headless Chromium (Debian's chromium driven by playwright-core from
// tests/tools): list, filter by identity, by tool and outcome, drill into a call. Screenshots under TestResults.
public sealed class AuditDashboardTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AuditPage_InChromium_FiltersByIdentityToolAndOutcomeAndShowsACall()
    {
        McpServers.Require();
        var tools = Path.Combine(McpServers.RepoRoot, "tests", "tools");
        var missing = !File.Exists("/usr/bin/chromium") ? "Debian chromium is not installed (.ci/run installs it)"
            : !Directory.Exists(Path.Combine(tools, "node_modules", "playwright-core")) ? "npm playwright-core is not installed: npm ci --prefix tests/tools" : null;
        if (missing is not null)
        {
            Assert.SkipWhen(Environment.GetEnvironmentVariable("CI") is not { Length: > 0 }, missing);
            throw new InvalidOperationException(missing);
        }
        await using (var admin = await McpServers.ConnectAsync(fixture.Gateway, McpServers.AdminRoleKey))
        {
            await admin.CallToolAsync("everything__echo", new Dictionary<string, object?> { ["message"] = "seen on the page" }, cancellationToken: Ct);
        }
        await using (var analyst = await McpServers.ConnectAsync(fixture.Gateway, McpServers.AnalystKey))
        {
            await analyst.CallToolAsync("everything__echo", new Dictionary<string, object?> { ["message"] = "analyst" }, cancellationToken: Ct);
            await Assert.ThrowsAsync<ModelContextProtocol.McpProtocolException>(() => analyst.CallToolAsync(new()
            {
                Name = "fixture__wipe",
                Meta = new System.Text.Json.Nodes.JsonObject { ["justification"] = "clean up" },
            }, Ct).AsTask());
        }
        await McpServers.AuditAsync(fixture.Gateway, "?tool=fixture__wipe");

        var screenshots = Path.Combine(AppContext.BaseDirectory, "TestResults", "dashboard");
        Directory.CreateDirectory(screenshots);
        var start = new ProcessStartInfo("node", [Path.Combine(tools, "mcp-audit-check.js"), fixture.Gateway.HttpBase.ToString().TrimEnd('/'), McpServers.AdminKey, screenshots, "analyst-1", "fixture__wipe"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = tools,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(90), Ct);
        Assert.True(process.ExitCode == 0, await stderr);

        using var result = JsonDocument.Parse(await stdout);
        var root = result.RootElement;
        Assert.Empty(root.GetProperty("errors").EnumerateArray());
        Assert.True(root.GetProperty("initialRows").GetInt32() >= 3);
        Assert.Contains("admin-1", root.GetProperty("initialIdentities").EnumerateArray().Select(i => i.GetString()));
        Assert.Contains("analyst-1", root.GetProperty("initialIdentities").EnumerateArray().Select(i => i.GetString()));
        Assert.True(root.GetProperty("identityRows").GetInt32() >= 2);
        Assert.True(root.GetProperty("deniedRows").GetInt32() >= 1);
        var detail = root.GetProperty("detail");
        Assert.Equal("analyst-1", detail.GetProperty("Identity").GetString());
        Assert.Equal("support", detail.GetProperty("Team").GetString());
        Assert.Equal("fixture__wipe", detail.GetProperty("Tool").GetString());
        Assert.Equal("denied", detail.GetProperty("Outcome").GetString());
        Assert.Equal("clean up", detail.GetProperty("Justification").GetString());
        Assert.Equal("gateway-tests 9.9.9", detail.GetProperty("Client").GetString());
        foreach (var file in new[] { "audit-1-list.png", "audit-2-filtered.png", "audit-3-call.png" })
        {
            Assert.True(new FileInfo(Path.Combine(screenshots, file)).Length > 10_000, file);
        }
    }
}
