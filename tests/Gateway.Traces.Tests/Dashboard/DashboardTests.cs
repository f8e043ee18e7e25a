using System.Diagnostics;
using System.Text.Json;
using Gateway.Testing.Fakes;
using Gateway.Traces.Ingest;
using Gateway.Traces.Tests.Admin;
using Gateway.Traces.Tests.ClickHouse;

namespace Gateway.Traces.Tests.Dashboard;

// The dashboard in real headless Chromium (Debian's chromium, driven by playwright-core): load, filter by team,
// open a trace, see the waterfall and the attempts. Screenshots are kept under TestResults/dashboard.
public sealed class DashboardTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Dashboard_InChromium_ListsFiltersByTeamAndShowsTheWaterfall()
    {
        var tools = ChdbServer.ToolsDirectory()!;
        var missing = !File.Exists("/usr/bin/chromium") ? "Debian chromium is not installed (.ci/run installs it)"
            : !Directory.Exists(Path.Combine(tools, "node_modules", "playwright-core")) ? "npm playwright-core is not installed: npm ci --prefix tests/tools" : null;
        if (missing is not null)
        {
            if (Environment.GetEnvironmentVariable("CI") is { Length: > 0 })
            {
                throw new InvalidOperationException(missing);
            }
            Assert.Skip(missing);
        }

        await using var upstream = await FakeOpenAi.StartNewAsync();
        await using var gateway = await TestGateway.StartAsync(AdminTracesTests.GatewayYaml(upstream));
        var ingestor = (TraceIngestor)gateway.Services.GetService(typeof(TraceIngestor))!;
        var seeded = TraceData.Make(60, "ui");
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var count = 0;
        ingestor.Written += n =>
        {
            if (Interlocked.Add(ref count, n) >= seeded.Count)
            {
                written.TrySetResult();
            }
        };
        foreach (var trace in seeded)
        {
            ingestor.Accept(trace);
        }
        await written.Task.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        // The newest "ads" trace with a failover: two attempts in the waterfall.
        var withFailover = seeded.Where(t => t.Principal.Team == "ads" && t.Attempts.Count == 2).Newest().First();

        var screenshots = Path.Combine(AppContext.BaseDirectory, "TestResults", "dashboard");
        Directory.CreateDirectory(screenshots);
        var start = new ProcessStartInfo("node", [Path.Combine(tools, "dashboard-check.js"), gateway.HttpBase.ToString().TrimEnd('/'), AdminTracesTests.AdminKey, screenshots, "ads"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = tools,
            Environment = { ["OPEN_REQUEST_ID"] = withFailover.RequestId },
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(90), Ct);
        Assert.True(process.ExitCode == 0, await stderr);

        using var result = JsonDocument.Parse(await stdout);
        var root = result.RootElement;
        Assert.Empty(root.GetProperty("errors").EnumerateArray());
        Assert.Equal(50, root.GetProperty("initialRows").GetInt32());
        Assert.True(root.GetProperty("charts").GetProperty("spendBars").GetInt32() > 0);
        Assert.True(root.GetProperty("charts").GetProperty("latencyBars").GetInt32() > 0);
        Assert.Equal(["ads"], root.GetProperty("filteredTeams").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(seeded.Count(t => t.Principal.Team == "ads"), root.GetProperty("filteredRows").GetInt32());
        Assert.Equal(withFailover.RequestId, root.GetProperty("opened").GetString());
        Assert.Equal(2, root.GetProperty("attempts").GetInt32());
        var layers = root.GetProperty("waterfall").EnumerateArray().Select(l => l.GetString()).ToList();
        string[] expected = ["auth", "prompt", "guard in", "budget", "routing", "azure 503", withFailover.Provider + " 200", "guard out"];
        Assert.Equal(expected.Where(l => l != "prompt" || withFailover.Latencies.PromptMs > 0), layers);
        foreach (var file in new[] { "1-list.png", "2-filtered.png", "3-trace.png" })
        {
            var path = Path.Combine(screenshots, file);
            Assert.True(new FileInfo(path).Length > 10_000, path);
            TestContext.Current.AddAttachment(file, await File.ReadAllBytesAsync(path, Ct), "image/png");
        }
    }
}
