using System.Diagnostics;
using System.Text.Json;

namespace Gateway.Prompts.Tests;

// The dashboard's prompts page in real headless Chromium (Debian's chromium, driven by playwright-core): the
// prompt list with its labels, a prompt's versions, label history and running experiment.
public sealed class PromptsDashboardTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PromptsPage_InChromium_ShowsVersionsLabelHistoryAndExperiments()
    {
        var tools = ToolsDirectory();
        var missing = !File.Exists("/usr/bin/chromium") ? "Debian chromium is not installed (.ci/run installs it)"
            : !Directory.Exists(Path.Combine(tools, "node_modules", "playwright-core")) ? "npm playwright-core is not installed: npm install --prefix tests/tools" : null;
        if (missing is not null)
        {
            if (Environment.GetEnvironmentVariable("CI") is { Length: > 0 })
            {
                throw new InvalidOperationException(missing);
            }
            Assert.Skip(missing);
        }
        await using var g = await PromptGateway.StartAsync();
        await g.CreateVersionAsync("support", """{"messages":[{"role":"system","content":"v1"}]}""");
        await g.CreateVersionAsync("support", """{"messages":[{"role":"system","content":"v2"}]}""");
        await g.SetLabelAsync("support", "production", 1);
        await g.SetLabelAsync("support", "production", 2);
        await g.AdminAsync(HttpMethod.Post, "/admin/v1/prompts/support/experiments", new
        {
            id = "tone", label = "production", sticky = "user",
            arms = new[] { new { name = "a", version = 1, weight = 50 }, new { name = "b", version = 2, weight = 50 } },
        });

        var start = new ProcessStartInfo("node", [Path.Combine(tools, "prompts-check.js"), g.Gateway.HttpBase.ToString().TrimEnd('/'), PromptGateway.AdminKey, "support"])
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
        var listed = root.GetProperty("prompts").EnumerateArray().Single(p => p[0].GetString() == "support");
        Assert.Equal("2", listed[1].GetString());
        Assert.Contains("production→v2", listed[2].GetString(), StringComparison.Ordinal);
        Assert.Equal(["Versions", "Label history", "Experiments"], root.GetProperty("sections").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal(["2", "1"], root.GetProperty("versions").EnumerateArray().Select(v => v[0].GetString()));
        Assert.Equal(2, root.GetProperty("history").GetArrayLength());
        var experiment = Assert.Single(root.GetProperty("experiments").EnumerateArray()).GetString();
        Assert.Contains("tone", experiment, StringComparison.Ordinal);
        Assert.Contains("verdict:", experiment, StringComparison.Ordinal);
    }

    private static string ToolsDirectory()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Gateway.sln")))
        {
            directory = directory.Parent;
        }
        return Path.Combine(directory?.FullName ?? throw new InvalidOperationException("Gateway.sln not found"), "tests", "tools");
    }
}
