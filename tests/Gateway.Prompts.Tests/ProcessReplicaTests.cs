using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Reflection;
using Gateway.Testing.Fakes;
using Gateway.Testing.Servers;

namespace Gateway.Prompts.Tests;

// Two gateway processes on one real PostgreSQL: this test process, and a second gateway started as its own OS
// process from the same build. A label moved through the first is in force on the second within a second.
public sealed class ProcessReplicaTests : IAsyncLifetime
{
    private PostgresServer? _postgres;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _postgres = await PostgresServer.StartAsync();

    public async ValueTask DisposeAsync()
    {
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }
    }

    [Fact]
    public async Task LabelMove_InOneProcess_TakesEffectInAnotherProcessWithinASecond()
    {
        await using var upstream = await FakeOpenAi.StartNewAsync();
        await using var a = await PromptGateway.StartAsync(state: _postgres!.Uri, upstream: upstream);
        await using var b = await ChildGateway.StartAsync(_postgres.Uri, upstream);
        await a.CreateVersionAsync("handoff", """{"text":"one"}""");
        await a.CreateVersionAsync("handoff", """{"text":"two"}""");
        await a.SetLabelAsync("handoff", "production", 1);
        Assert.Equal("1", await b.PromptVersionAsync("handoff", "production"));

        await a.SetLabelAsync("handoff", "production", 2);
        var moved = Stopwatch.StartNew();
        string version;
        do
        {
            version = await b.PromptVersionAsync("handoff", "production");
        }
        while (version != "2" && moved.Elapsed < TimeSpan.FromSeconds(5));

        Assert.Equal("2", version);
        Assert.True(moved.Elapsed < TimeSpan.FromSeconds(1), $"the other process served the old version for {moved.Elapsed.TotalMilliseconds:F0} ms");
    }

    // `dotnet gateway.dll --config ...` from the edge's build output of this test's configuration.
    private sealed class ChildGateway : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly HttpClient _http;
        private readonly string _directory;

        private ChildGateway(Process process, HttpClient http, string directory)
        {
            _process = process;
            _http = http;
            _directory = directory;
        }

        public static async Task<ChildGateway> StartAsync(string state, FakeOpenAi upstream)
        {
            var directory = Path.Combine(Path.GetTempPath(), "gateway-prompt-replica", Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(directory);
            var http = FreePort.Get();
            var config = Path.Combine(directory, "gateway.yaml");
            await File.WriteAllTextAsync(config, $"""
                server:
                  http: 127.0.0.1:{http}
                  grpc: 127.0.0.1:{FreePort.Get()}
                  admin_key: {PromptGateway.AdminKey}
                storage:
                  state: {state}
                  traces: sqlite://{directory}/traces.db
                {PromptGateway.Yaml(upstream.Url)}
                """, Ct);
            var start = new ProcessStartInfo("dotnet", [GatewayDll, "--config", config])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = directory,
            };
            var process = Process.Start(start)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}") };
            var child = new ChildGateway(process, client, directory);
            var waited = Stopwatch.StartNew();
            while (!await child.HealthyAsync())
            {
                if (process.HasExited || waited.Elapsed > TimeSpan.FromSeconds(60))
                {
                    await child.DisposeAsync();
                    throw new InvalidOperationException($"the second gateway did not start ({GatewayDll})");
                }
                await Task.Delay(200, Ct);
            }
            return child;
        }

        public async Task<string> PromptVersionAsync(string prompt, string label)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
            {
                Content = JsonContent.Create(new { model = "gpt-4o", prompt = new { id = prompt, label } }),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestGateway.DefaultKey);
            using var response = await _http.SendAsync(request, Ct);
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(Ct));
            return response.Headers.GetValues("x-gateway-prompt-version").Single();
        }

        private async Task<bool> HealthyAsync()
        {
            try
            {
                using var response = await _http.GetAsync(new Uri("/healthz", UriKind.Relative), Ct);
                return response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }

        public ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
            _process.Dispose();
            _http.Dispose();
            Directory.Delete(_directory, recursive: true);
            return ValueTask.CompletedTask;
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
                var configuration = typeof(ProcessReplicaTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
                return Path.Combine(directory?.FullName ?? throw new InvalidOperationException("Gateway.sln not found"),
                    "services", "edge", "bin", configuration, "net10.0", "gateway.dll");
            }
        }
    }
}
