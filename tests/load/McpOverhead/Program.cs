using System.Diagnostics;
using System.Globalization;
using Gateway.Testing;
using ModelContextProtocol.Client;

// Usage: dotnet run -c Release --project tests/load/McpOverhead -- [calls=2000] [warmup=300]
// Starts server-everything (node, Streamable HTTP) and the embedded gateway in front of it, then times
// sequential `echo` tools/calls with the official C# SDK client: directly, then through /mcp (with key
// authentication, policy, rate-limit check, audit and redaction all on). Prints p50/p90/p99 and the difference.
var calls = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2000;
var warmup = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 300;

var root = new DirectoryInfo(AppContext.BaseDirectory);
while (root is not null && !File.Exists(Path.Combine(root.FullName, "Gateway.sln")))
{
    root = root.Parent;
}
var everything = Path.Combine(root!.FullName, "tests", "mcp-servers", "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js");
var port = FreePort.Get();
var start = new ProcessStartInfo("node") { RedirectStandardError = true, RedirectStandardOutput = true };
start.ArgumentList.Add(everything);
start.ArgumentList.Add("streamableHttp");
start.Environment["PORT"] = port.ToString(CultureInfo.InvariantCulture);
using var upstream = Process.Start(start)!;
var listening = new TaskCompletionSource();
upstream.ErrorDataReceived += (_, e) => { if (e.Data?.Contains("listening", StringComparison.OrdinalIgnoreCase) == true) { listening.TrySetResult(); } };
upstream.OutputDataReceived += (_, e) => { };
upstream.BeginErrorReadLine();
upstream.BeginOutputReadLine();
await listening.Task.WaitAsync(TimeSpan.FromSeconds(30));

const string key = "bench-key-0123456789abcdef";
var gateway = await TestGateway.StartAsync($$"""
    keys:
      - { name: bench, key: "{{key}}", team: bench, roles: [agent] }
    guard:
      policies:
        strict: { entities: { default: redact, SECRET: block }, output: { default: redact } }
      assign:
        - { scope: {}, policy: strict }
    mcp:
      servers:
        everything: { transport: streamable-http, url: "http://127.0.0.1:{{port}}/mcp" }
      rules:
        - { roles: [agent], allow: ["everything__*"] }
      rate_limits:
        - { roles: [agent], tool: "*", per_minute: 1000000 }
    """);

try
{
    // Both clients stay open; blocks of calls alternate between them so drift on a shared machine (other
    // processes, JIT tiering, GC) lands on both sides equally.
    await using var direct = await ConnectAsync(new Uri($"http://127.0.0.1:{port}/mcp"), null);
    await using var viaGateway = await ConnectAsync(new Uri(gateway.HttpBase, "/mcp"), key);
    await RunAsync(direct, "echo", warmup, null);
    await RunAsync(viaGateway, "everything__echo", warmup, null);
    var directSamples = new List<double>(calls);
    var gatewaySamples = new List<double>(calls);
    const int rounds = 20;
    for (var round = 0; round < rounds; round++)
    {
        await RunAsync(direct, "echo", calls / rounds, directSamples);
        await RunAsync(viaGateway, "everything__echo", calls / rounds, gatewaySamples);
    }
    var d = directSamples.Order().ToArray();
    var g = gatewaySamples.Order().ToArray();
    Console.WriteLine($"tools/call echo, {d.Length} sequential calls per side after {warmup} warm-up, alternating blocks of {calls / rounds}, loopback");
    Console.WriteLine($"{"",-10}{"p50 ms",10}{"p90 ms",10}{"p99 ms",10}");
    Print("direct", d);
    Print("gateway", g);
    Console.WriteLine($"{"added",-10}{P(g, 0.50) - P(d, 0.50),10:F3}{P(g, 0.90) - P(d, 0.90),10:F3}{P(g, 0.99) - P(d, 0.99),10:F3}");
}
finally
{
    await gateway.DisposeAsync();
    upstream.Kill(entireProcessTree: true);
}

static async Task<McpClient> ConnectAsync(Uri endpoint, string? bearer)
{
    var headers = new Dictionary<string, string>();
    if (bearer is not null)
    {
        headers["Authorization"] = "Bearer " + bearer;
    }
    return await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
    {
        Endpoint = endpoint,
        TransportMode = HttpTransportMode.StreamableHttp,
        AdditionalHeaders = headers,
    }));
}

static async Task RunAsync(McpClient client, string tool, int count, List<double>? samples)
{
    var arguments = new Dictionary<string, object?> { ["message"] = "ping" };
    for (var i = 0; i < count; i++)
    {
        var started = Stopwatch.GetTimestamp();
        await client.CallToolAsync(tool, arguments);
        samples?.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }
}

static double P(double[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];

static void Print(string name, double[] sorted)
    => Console.WriteLine($"{name,-10}{P(sorted, 0.50),10:F3}{P(sorted, 0.90),10:F3}{P(sorted, 0.99),10:F3}");
