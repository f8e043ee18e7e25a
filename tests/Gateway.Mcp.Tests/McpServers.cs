using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using ModelContextProtocol.Client;

namespace Gateway.Mcp.Tests;

// The real MCP servers from npm (installed by `.ci/run`: npm ci --prefix tests/mcp-servers), run with node.
public static class McpServers
{
    public const string AdminKey = "test-admin-key-0123456789";
    public const string AnalystKey = "analyst-key-0123456789abcdef";
    public const string AdminRoleKey = "admin-key-0123456789abcdef00";

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Folder => Path.Combine(RepoRoot, "tests", "mcp-servers");

    public static string Everything => Package("server-everything");

    public static string Memory => Package("server-memory");

    public static string Filesystem => Package("server-filesystem");

    public static string Fixture => Path.Combine(Folder, "fixture-server.mjs");

    private static string Package(string name) => Path.Combine(Folder, "node_modules", "@modelcontextprotocol", name, "dist", "index.js");

    // Skips (on a laptop without `npm ci --prefix tests/mcp-servers`) rather than failing obscurely.
    public static void Require()
    {
        Assert.SkipUnless(File.Exists(Everything) && File.Exists(Memory), "Run `npm ci --prefix tests/mcp-servers` first (.ci/run does).");
    }

    private static string FindRepoRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Gateway.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("Gateway.sln not found above " + AppContext.BaseDirectory);
    }

    // YAML for a stdio server entry run with node.
    public static string Stdio(string name, string script, string args = "", string env = "", string extra = "")
        => $"    {name}: {{ transport: stdio, command: node, args: [\"{script}\"{args}]{(env.Length > 0 ? $", env: {{ {env} }}" : "")}{extra} }}";

    public static string Keys => $"""
        keys:
          - {"{"} name: analyst-1, key: "{AnalystKey}", team: support, roles: [analyst] {"}"}
          - {"{"} name: admin-1, key: "{AdminRoleKey}", team: platform, roles: [admin] {"}"}
        """;

    public static async Task<McpClient> ConnectAsync(TestGateway gateway, string key, string path = "/mcp", McpClientOptions? options = null)
    {
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(gateway.HttpBase, path),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + key },
        });
        options ??= new McpClientOptions();
        options.ClientInfo ??= new ModelContextProtocol.Protocol.Implementation { Name = "gateway-tests", Version = "9.9.9" };
        return await McpClient.CreateAsync(transport, options, cancellationToken: TestContext.Current.CancellationToken);
    }

    public static HttpClient Admin(TestGateway gateway)
    {
        var http = new HttpClient { BaseAddress = gateway.HttpBase };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        return http;
    }

    // Audit rows reach the store through the event bus and the traces ingestor (batched), so this waits until
    // the query returns at least `minimum` rows (then returns them all), up to ten seconds.
    public static async Task<JsonElement> AuditAsync(TestGateway gateway, string query = "", int minimum = 1)
    {
        using var http = Admin(gateway);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        while (true)
        {
            var calls = (await http.GetFromJsonAsync<JsonElement>("/admin/v1/mcp/audit" + query, timeout.Token)).GetProperty("calls");
            if (calls.GetArrayLength() >= minimum)
            {
                return calls;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(25), timeout.Token);
        }
    }
}

// `server-everything streamableHttp` on a free loopback port, for the Streamable HTTP upstream.
public sealed class EverythingHttpServer : IAsyncDisposable
{
    private readonly Process _process;

    private EverythingHttpServer(Process process, int port)
    {
        _process = process;
        Url = $"http://127.0.0.1:{port}/mcp";
    }

    public string Url { get; }

    public static async Task<EverythingHttpServer> StartAsync()
    {
        var port = FreePort.Get();
        var start = new ProcessStartInfo("node") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(McpServers.Everything);
        start.ArgumentList.Add("streamableHttp");
        start.Environment["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = start };
        process.ErrorDataReceived += (_, e) => { if (e.Data?.Contains("listening", StringComparison.OrdinalIgnoreCase) == true) { listening.TrySetResult(); } };
        process.OutputDataReceived += (_, e) => { if (e.Data?.Contains("listening", StringComparison.OrdinalIgnoreCase) == true) { listening.TrySetResult(); } };
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        await listening.Task.WaitAsync(TimeSpan.FromSeconds(20));
        return new EverythingHttpServer(process, port);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
