using System.Diagnostics;
using System.Globalization;
using Testcontainers.Redis;

namespace Gateway.Testing.Servers;

// A real Redis for one test class (ExternalServer): a `redis` container where Docker answers, else a local
// redis-server on a free loopback port, no persistence, stopped by its PID.
public sealed class RedisServer : IAsyncDisposable
{
    public const string Image = "redis:7.4-alpine";

    private readonly IAsyncDisposable _server;

    private RedisServer(IAsyncDisposable server, string uri)
    {
        _server = server;
        Uri = uri;
    }

    public string Uri { get; }

    // The loopback port it answers on (the mapped port when it runs in a container).
    public int Port => new System.Uri(Uri).Port;

    public static Task<RedisServer> StartAsync() => ExternalServer.StartAsync("Redis", StartContainerAsync, StartLocalAsync);

    public static async Task<RedisServer> StartContainerAsync(CancellationToken cancellationToken)
    {
        var container = new RedisBuilder(Image).Build();
        await container.StartAsync(cancellationToken);
        return new RedisServer(container, string.Create(CultureInfo.InvariantCulture, $"redis://{container.Hostname}:{container.GetMappedPublicPort(RedisBuilder.RedisPort)}"));
    }

    public static async Task<RedisServer> StartLocalAsync()
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
        foreach (var argument in new[] { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", directory })
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
        return new RedisServer(new LocalServer(async () =>
        {
            if (!process.HasExited)
            {
                process.Kill();
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
            process.Dispose();
        }), $"redis://127.0.0.1:{port}");
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
