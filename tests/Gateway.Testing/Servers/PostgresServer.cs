using System.Diagnostics;
using System.Globalization;
using Testcontainers.PostgreSql;

namespace Gateway.Testing.Servers;

// A real PostgreSQL for one test class (ExternalServer): a `postgres` container where Docker answers, else a local
// cluster: initdb into a temp directory, pg_ctl start on a free loopback port (as the `postgres` user when the
// tests run as root, which PostgreSQL refuses), pg_ctl stop at the end (it signals the postmaster by the PID in
// its pid file).
public sealed class PostgresServer : IAsyncDisposable
{
    public const string Image = "postgres:17-alpine";

    private readonly IAsyncDisposable _server;

    private PostgresServer(IAsyncDisposable server, string uri)
    {
        _server = server;
        Uri = uri;
    }

    public string Uri { get; }

    // The loopback port it answers on (the mapped port when it runs in a container).
    public int Port => new System.Uri(Uri).Port;

    public static Task<PostgresServer> StartAsync() => ExternalServer.StartAsync("PostgreSQL", StartContainerAsync, StartLocalAsync);

    public static async Task<PostgresServer> StartContainerAsync(CancellationToken cancellationToken)
    {
        var container = new PostgreSqlBuilder(Image).WithUsername("postgres").WithPassword("postgres").WithDatabase("postgres").Build();
        await container.StartAsync(cancellationToken);
        return new PostgresServer(container, string.Create(CultureInfo.InvariantCulture, $"postgres://postgres:postgres@{container.Hostname}:{container.GetMappedPublicPort(PostgreSqlBuilder.PostgreSqlPort)}/postgres"));
    }

    public static async Task<PostgresServer> StartLocalAsync()
    {
        var initdb = ServerBinary.Require("PostgreSQL", "/usr/lib/postgresql/*/bin/initdb", "initdb");
        var bin = Path.GetDirectoryName(initdb)!;
        var root = Environment.UserName == "root";
        var directory = Path.Combine(Path.GetTempPath(), "gateway-postgres", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var data = Path.Combine(directory, "data");
        if (root)
        {
            await RunAsync("chown", false, "-R", "postgres", directory);
        }
        var port = FreePort.Get();
        await RunAsync(Path.Combine(bin, "initdb"), root, "-D", data, "-A", "trust", "-U", "postgres", "--no-sync");
        var options = string.Create(CultureInfo.InvariantCulture, $"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off");
        await RunAsync(Path.Combine(bin, "pg_ctl"), root, "-D", data, "-o", options, "-l", Path.Combine(directory, "log"), "-w", "-t", "60", "start");
        return new PostgresServer(new LocalServer(() => new ValueTask(RunAsync(Path.Combine(bin, "pg_ctl"), root, "-D", data, "-m", "fast", "-w", "stop"))),
            $"postgres://postgres@127.0.0.1:{port}/postgres");
    }

    private static async Task RunAsync(string file, bool asPostgresUser, params string[] arguments)
    {
        var info = new ProcessStartInfo(asPostgresUser ? "runuser" : file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        if (asPostgresUser)
        {
            foreach (var argument in new[] { "-u", "postgres", "--", file })
            {
                info.ArgumentList.Add(argument);
            }
        }
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed ({process.ExitCode}): {await stdout}{await stderr}");
        }
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
