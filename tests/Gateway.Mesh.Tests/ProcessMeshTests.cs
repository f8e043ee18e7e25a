using System.ClientModel;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Reflection;
using System.Text.Json;
using Gateway.Testing.Fakes;
using OpenAI;
using OpenAI.Chat;

namespace Gateway.Mesh.Tests;

// The real thing: deploy/local/mesh.sh starts every service as its own process (this test's build outputs,
// MESH_NO_BUILD), a chat and a streaming request go through the edge with the OpenAI client, a prompt stored
// through the edge's admin API renders into a chat, the trace crosses the sidecar stand-in to the traces service
// and shows in the admin trace API, and `stop` ends every process.
public sealed class ProcessMeshTests : IAsyncLifetime
{
    private const string AdminKey = "process-mesh-admin-key-0123";
    private const string DevKey = "process-mesh-dev-key-0123456";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "gateway-process-mesh", Guid.NewGuid().ToString("N"));
    private readonly Dictionary<string, string> _environment = new(StringComparer.Ordinal);
    private FakeOpenAi _upstream = null!;
    private Uri _edge = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _upstream = await FakeOpenAi.StartNewAsync();
        var edgePort = FreePort.Get();
        _edge = new Uri($"http://127.0.0.1:{edgePort}");
        _environment["MESH_DIR"] = _directory;
        _environment["MESH_NO_BUILD"] = "1";
        _environment["MESH_CONFIGURATION"] = Configuration;
        _environment["MESH_PORT_BASE"] = FreePortBase().ToString(System.Globalization.CultureInfo.InvariantCulture);
        _environment["MESH_EDGE_HTTP"] = edgePort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        _environment["MESH_EDGE_GRPC"] = FreePort.Get().ToString(System.Globalization.CultureInfo.InvariantCulture);
        _environment["MESH_OPENAI_BASE_URL"] = $"{_upstream.Url}v1";
        _environment["GATEWAY_ADMIN_KEY"] = AdminKey;
        _environment["GATEWAY_DEV_KEY"] = DevKey;
    }

    public async ValueTask DisposeAsync()
    {
        // Never leave processes behind, whatever the test did.
        await MeshAsync("stop");
        await _upstream.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task MeshScript_StartsEveryService_ChatAndStreamSucceed_TraceLands_StopsCleanly()
    {
        var (started, startOutput) = await MeshAsync("start");
        Assert.True(started == 0, startOutput);
        var pids = Directory.GetFiles(_directory, "*.pid").ToDictionary(f => Path.GetFileNameWithoutExtension(f)!, f => int.Parse(File.ReadAllText(f).Trim(), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(["budget", "edge", "guard", "mcp", "prompts", "router", "sidecar", "traces"], pids.Keys.Order(StringComparer.Ordinal));

        var chat = new OpenAIClient(new ApiKeyCredential(DevKey), new OpenAIClientOptions { Endpoint = new Uri(_edge, "/v1") }).GetChatClient("gpt-4o-mini");
        var result = await chat.CompleteChatAsync([new UserChatMessage("across processes")], cancellationToken: Ct);
        Assert.Equal("Echo: across processes", result.Value.Content[0].Text);
        Assert.True(result.GetRawResponse().Headers.TryGetValue("x-request-id", out var requestId));

        _upstream.Replies.Enqueue(FakeReply.Say("streamed through the mesh"));
        var text = new System.Text.StringBuilder();
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("go")], cancellationToken: Ct))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }
        Assert.Equal("streamed through the mesh", text.ToString());

        // The admin prompt API on the edge writes the prompts service; the router renders from it.
        using (var admin = AdminClient())
        {
            using var created = await admin.PostAsync(new Uri("/admin/v1/prompts/support/versions", UriKind.Relative), JsonBody("""
                {"type":"chat","messages":[{"role":"system","content":"You are the {{product}} assistant."}],
                 "variables":[{"name":"product","type":"string","required":true}]}
                """), Ct);
            Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync(Ct));
            using var labelled = await admin.PutAsync(new Uri("/admin/v1/prompts/support/labels/production", UriKind.Relative), JsonBody("""{"version":1}"""), Ct);
            Assert.True(labelled.IsSuccessStatusCode, await labelled.Content.ReadAsStringAsync(Ct));
        }
        var options = new ChatCompletionOptions();
#pragma warning disable SCME0001 // JsonPatch (extra body fields) is marked experimental in the SDK.
        options.Patch.Set("$.prompt"u8, BinaryData.FromString("""{"id":"support","label":"production","variables":{"product":"Gateway"}}"""));
#pragma warning restore SCME0001
        var rendered = await chat.CompleteChatAsync([new UserChatMessage("with a prompt")], options, Ct);
        Assert.True(rendered.GetRawResponse().Headers.TryGetValue("x-gateway-prompt-version", out var promptVersion));
        Assert.Equal("1", promptVersion);
        var system = JsonDocument.Parse(_upstream.LastRequest.Body).RootElement.GetProperty("messages")[0];
        Assert.Equal(("system", "You are the Gateway assistant."), (system.GetProperty("role").GetString(), system.GetProperty("content").GetString()));

        using var trace = await AdminTraceAsync(requestId!);
        Assert.Equal("ok", trace.RootElement.GetProperty("status").GetString());
        Assert.Equal("openai", trace.RootElement.GetProperty("provider").GetString());
        Assert.Equal("local", trace.RootElement.GetProperty("principal").GetProperty("team").GetString());

        var (stopped, stopOutput) = await MeshAsync("stop");
        Assert.True(stopped == 0, stopOutput);
        foreach (var (name, pid) in pids)
        {
            Assert.False(IsRunning(pid), $"{name} (pid {pid}) still runs after stop");
        }
        Assert.Empty(Directory.GetFiles(_directory, "*.pid"));
    }

    // The trace travels router -> sidecar -> traces service -> SQLite; the edge's admin API reads it.
    private async Task<JsonDocument> AdminTraceAsync(string requestId)
    {
        using var http = AdminClient();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            using var response = await http.GetAsync(new Uri($"/admin/v1/traces/{requestId}", UriKind.Relative), Ct);
            if (response.IsSuccessStatusCode)
            {
                return JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
            }
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), $"trace {requestId} did not land: {(int)response.StatusCode}");
            await Task.Delay(100, Ct);
        }
    }

    private HttpClient AdminClient()
    {
        var http = new HttpClient { BaseAddress = _edge };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        return http;
    }

    private static StringContent JsonBody(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    private async Task<(int ExitCode, string Output)> MeshAsync(string command)
    {
        var start = new ProcessStartInfo("bash", [Path.Combine(RepositoryRoot, "deploy", "local", "mesh.sh"), command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepositoryRoot,
        };
        foreach (var (name, value) in _environment)
        {
            start.Environment[name] = value;
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(Ct);
        var error = process.StandardError.ReadToEndAsync(Ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await error);
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    // A base with gRPC ports base+1..7, sidecar base+50 and HTTP ports base+101..107 all free right now.
    private static int FreePortBase()
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var candidate = Random.Shared.Next(20_000, 60_000);
            int[] offsets = [1, 2, 3, 4, 5, 6, 50, 101, 102, 103, 104, 105, 106];
            if (offsets.All(o => PortIsFree(candidate + o)))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException("no free port range for the mesh");
    }

    private static bool PortIsFree(int port)
    {
        try
        {
            using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    // The configuration this test was built in: the mesh runs the same build outputs.
    private static string Configuration => typeof(ProcessMeshTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    public static string RepositoryRoot
    {
        get
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Gateway.sln")))
            {
                directory = directory.Parent;
            }
            return directory?.FullName ?? throw new InvalidOperationException("Gateway.sln not found above " + AppContext.BaseDirectory);
        }
    }
}
