using System.Diagnostics;
using System.Net.Http.Headers;
using System.Reflection;
using System.Text;
using System.Text.Json;

namespace Gateway.Faults.Tests;

// The gateway as its own OS process (`dotnet gateway.dll --config FILE`, the edge's build output), so a test can
// kill it with SIGKILL and start it again on the same files, as a crash and an operator's restart would.
public sealed class GatewayProcess : IAsyncDisposable
{
    public const string AdminKey = "faults-admin-key-0123456789";

    private readonly StringBuilder _output = new();
    private Process? _process;

    public GatewayProcess(string directory, string state, string yaml)
    {
        Directory = directory;
        HttpPort = FreePort.Get();
        ConfigPath = Path.Combine(directory, "gateway.yaml");
        File.WriteAllText(ConfigPath, $"""
            server:
              http: 127.0.0.1:{HttpPort}
              grpc: 127.0.0.1:{FreePort.Get()}
              admin_key: {AdminKey}
            storage:
              state: {state}
              traces: sqlite://{directory}/traces.db
            {yaml}
            """);
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public string Directory { get; }

    public string ConfigPath { get; }

    public int HttpPort { get; }

    public HttpClient Http { get; }

    public int Pid => _process?.Id ?? 0;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("dotnet", [GatewayDll, "--config", ConfigPath])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Directory,
        };
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        var waited = Stopwatch.StartNew();
        while (!await HealthyAsync(cancellationToken))
        {
            if (process.HasExited || waited.Elapsed > TimeSpan.FromSeconds(90))
            {
                throw new InvalidOperationException($"the gateway process did not start ({GatewayDll}):\n{Output}");
            }
            await Task.Delay(100, cancellationToken);
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    // SIGKILL: no shutdown hooks, no flushing, nothing the process can do about it.
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        }
    }

    private async Task<bool> HealthyAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Http.GetAsync(new Uri("/healthz", UriKind.Relative), cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    public async Task<(int Status, JsonElement Body)> AdminAsync(HttpMethod method, string path, string? json, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        using var response = await Http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
        Http.Dispose();
    }

    private static string GatewayDll
    {
        get
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Gateway.sln")))
            {
                directory = directory.Parent;
            }
            var configuration = typeof(GatewayProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
            return Path.Combine(directory?.FullName ?? throw new InvalidOperationException("Gateway.sln not found"),
                "services", "edge", "bin", configuration, "net10.0", "gateway.dll");
        }
    }
}
