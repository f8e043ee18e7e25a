using System.Diagnostics;

namespace Gateway.Testing.Servers;

// A real redis-server for one test class: a free loopback port, no persistence, stopped by its PID.
public sealed class RedisServer : IAsyncDisposable
{
    private readonly Process _process;

    private RedisServer(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public string Uri => $"redis://127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync()
    {
        var binary = ServerBinary.Require("redis-server", "redis-server", "/usr/bin/redis-server", "/usr/local/bin/redis-server");
        var port = FreePort.Get();
        var directory = Path.Combine(Path.GetTempPath(), "gateway-redis", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var info = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        foreach (var argument in new[] { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", directory })
        {
            info.ArgumentList.Add(argument);
        }
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }
            lock (output)
            {
                output.AppendLine(e.Data);
            }
            if (e.Data.Contains("Ready to accept connections", StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        };
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException("redis-server exited: " + output));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await ready.Task.WaitAsync(TimeSpan.FromSeconds(20));
        return new RedisServer(process, port);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        _process.Dispose();
    }
}
