using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Gateway.Traces.Tests.ClickHouse;

// The current ClickHouse engine without Docker: tests/tools/chdb-http.js serves ClickHouse's HTTP interface over
// chdb (libchdb.so from npm `chdb`, installed by .ci/run with `npm ci` in tests/tools). The real ClickHouse.Driver
// talks to it exactly as to a server. Each instance has its own data directory and port.
public sealed partial class ChdbServer : ClickHouseServer
{
    private readonly Process _process;
    private readonly string _dataDirectory;
    private readonly HttpClient _control = new();

    private ChdbServer(Process process, string dataDirectory, int port, int controlPort)
    {
        _process = process;
        _dataDirectory = dataDirectory;
        Port = port;
        ControlPort = controlPort;
    }

    public int Port { get; }

    public int ControlPort { get; }

    public override string Uri(string database) => $"clickhouse://default:@127.0.0.1:{Port}/{database}";

    public static string? ToolsDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "tests", "tools");
            if (File.Exists(Path.Combine(candidate, "chdb-http.js")))
            {
                return candidate;
            }
        }
        return null;
    }

    // Why the engine cannot run here, or null. Tests skip for this on a developer laptop without `npm ci` in
    // tests/tools; in CI (.ci/run installs it) they fail instead.
    public static string? MissingReason()
        => ToolsDirectory() is not { } tools ? "tests/tools/chdb-http.js not found above " + AppContext.BaseDirectory
            : !Directory.Exists(Path.Combine(tools, "node_modules", "chdb")) ? "npm package chdb is not installed: run `npm ci --prefix tests/tools` (.ci/run does)"
            : null;

    public static async Task<ChdbServer> StartLocalAsync()
    {
        if (MissingReason() is { } reason)
        {
            if (Environment.GetEnvironmentVariable("CI") is not { Length: > 0 })
            {
                Assert.Skip(reason);
            }
            throw new InvalidOperationException(reason);
        }
        var tools = ToolsDirectory()!;
        var data = Path.Combine(Path.GetTempPath(), "gateway-chdb", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(data);
        var start = new ProcessStartInfo("node", [Path.Combine(tools, "chdb-http.js"), data, "0"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = tools,
            Environment = { ["CHDB_HTTP_STDIN_LIFETIME"] = "1" },
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start node");
        var ready = new TaskCompletionSource<(int, int)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var stderr = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line && ListeningLine().Match(line) is { Success: true } match)
            {
                ready.TrySetResult((int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), int.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture)));
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stderr)
                {
                    stderr.AppendLine(e.Data);
                }
            }
        };
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException("chdb-http exited: " + stderr));
        process.EnableRaisingEvents = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var (port, control) = await ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
        return new ChdbServer(process, data, port, control);
    }

    [GeneratedRegex(@"^listening (\d+) control (\d+)")]
    private static partial Regex ListeningLine();

    // The listener closes and connections are cut, or it listens again.
    public override async Task SetAvailableAsync(bool available)
    {
        using var response = await _control.PostAsync(new Uri($"http://127.0.0.1:{ControlPort}/__outage?down={(available ? 0 : 1)}"), null);
        response.EnsureSuccessStatusCode();
    }

    public override async ValueTask DisposeAsync()
    {
        _control.Dispose();
        try
        {
            // Closing stdin asks the front to shut the engine down cleanly.
            _process.StandardInput.Close();
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        }
        catch (TimeoutException)
        {
            _process.Kill(entireProcessTree: true);
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS to clean up.
        }
    }
}
