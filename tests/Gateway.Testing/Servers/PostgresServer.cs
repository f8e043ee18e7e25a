using System.Diagnostics;
using System.Globalization;

namespace Gateway.Testing.Servers;

// A real PostgreSQL cluster for one test class: initdb into a temp directory, pg_ctl start on a free
// loopback port (as the `postgres` user when the tests run as root, which PostgreSQL refuses), pg_ctl stop
// at the end (it signals the postmaster by the PID in its pid file).
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly string _bin;
    private readonly string _data;
    private readonly bool _asPostgresUser;

    private PostgresServer(string bin, string data, int port, bool asPostgresUser)
    {
        _bin = bin;
        _data = data;
        Port = port;
        _asPostgresUser = asPostgresUser;
    }

    public int Port { get; }

    public string Uri => $"postgres://postgres@127.0.0.1:{Port}/postgres";

    public static async Task<PostgresServer> StartAsync()
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
        return new PostgresServer(bin, data, port, root);
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

    public async ValueTask DisposeAsync()
    {
        await RunAsync(Path.Combine(_bin, "pg_ctl"), _asPostgresUser, "-D", _data, "-m", "fast", "-w", "stop");
    }
}
