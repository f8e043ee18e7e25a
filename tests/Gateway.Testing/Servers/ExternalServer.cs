using System.Diagnostics;
using DotNet.Testcontainers.Builders;

namespace Gateway.Testing.Servers;

// How a test reaches a real server (ARCHITECTURE.md §4): where a Docker engine answers, a container started with
// Testcontainers; elsewhere the local way (Debian's redis-server and postgres, the npm chdb engine for ClickHouse).
// Whether Docker answers is asked once per test process, with a deadline, so a machine with the docker CLI and no
// engine pays a moment for it once and every fixture then goes the same way. The choice is logged.
public static class ExternalServer
{
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(10);

    // Any image name: the probe only builds the container's configuration, which is where Testcontainers looks
    // for a Docker endpoint and refuses with DockerUnavailableException when none answers. Nothing is pulled.
    private const string ProbeImage = "busybox:stable";

    private static readonly Lazy<Task<DockerProbe>> s_docker = new(() => ProbeAsync(ProbeTimeout));

    // Whether Docker answers, asked once per process.
    public static Task<DockerProbe> DockerAsync() => s_docker.Value;

    // Starts `container` when Docker answers, else `local` (named `localKind` in the log).
    public static async Task<T> StartAsync<T>(string server, Func<CancellationToken, Task<T>> container, Func<Task<T>> local, string localKind = "local server")
    {
        var docker = await DockerAsync();
        if (docker.Available)
        {
            Log($"{server}: container via Testcontainers ({docker.Detail})");
            // Pulling an image on a cold machine takes a while; starting takes seconds.
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            return await container(deadline.Token);
        }
        Log($"{server}: {localKind}, Docker is not available ({docker.Detail})");
        return await local();
    }

    // Asks Testcontainers, off the calling thread and with a deadline (its endpoint discovery pings every
    // candidate: DOCKER_HOST, ~/.testcontainers.properties, the Unix socket, ...).
    public static async Task<DockerProbe> ProbeAsync(TimeSpan timeout)
    {
        var started = Stopwatch.GetTimestamp();
        var probe = Task.Run(() =>
        {
            try
            {
                _ = new ContainerBuilder(ProbeImage).Build();
                return (true, "a Docker endpoint answered");
            }
            catch (DockerUnavailableException e)
            {
                return (false, FirstLine(e.Message));
            }
        });
        var finished = await Task.WhenAny(probe, Task.Delay(timeout));
        var took = Stopwatch.GetElapsedTime(started);
        if (finished != probe)
        {
            return new DockerProbe(false, $"no Docker endpoint answered within {timeout.TotalSeconds:0} s", took);
        }
        var (available, detail) = await probe;
        return new DockerProbe(available, detail, took);
    }

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();

    // On stderr: the test host's console output is where a developer looks, and it keeps test stdout clean.
    private static void Log(string message) => Console.Error.WriteLine("[external-server] " + message);
}

public sealed record DockerProbe(bool Available, string Detail, TimeSpan Took);

// Stops a local server the way it has to be stopped (a process kill, pg_ctl stop).
internal sealed class LocalServer(Func<ValueTask> stop) : IAsyncDisposable
{
    public ValueTask DisposeAsync() => stop();
}
