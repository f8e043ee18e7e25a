using System.Globalization;
using System.Net.Http.Json;

namespace Gateway.Load.Harness;

/// <summary>Something under load: its URL, the processes whose CPU and memory count against it, and the
/// versioned prompt its requests reference (the `prompt` field's JSON), if any.</summary>
public sealed class Target(string name, string url, IReadOnlyList<PinnedProcess> processes, string? prompt = null) : IDisposable
{
    public string Name => name;
    public string Url => url;
    public string? Prompt => prompt;
    public IReadOnlyList<int> Pids => processes.Select(p => p.Pid).ToList();

    public void Dispose()
    {
        foreach (var process in processes)
        {
            process.Dispose();
        }
    }
}

/// <summary>Starts each target on core 0 against the fake upstream.</summary>
public sealed class TargetFactory(string root, string work, int upstreamPort)
{
    public const string Key = "load-test-key-0123456789";
    private const string AdminKey = "load-admin-key-0123456789";
    // The governed requests' prompt: a stored version's system message, rendered with a variable per request.
    private const string PromptReference = """{"id":"load-system","label":"production","variables":{"product":"Gateway"}}""";
    private const int HttpPort = 18080, GrpcPort = 18081;

    // The runtime settings the images set (deploy/docker/*.Dockerfile), so the figures are those of what ships;
    // an environment that sets them itself wins.
    private static readonly Dictionary<string, string> ShippedRuntimeSettings = new()
    {
        ["DOTNET_GCgen0size"] = Environment.GetEnvironmentVariable("DOTNET_GCgen0size") ?? "0x1000000",
    };

    public async Task<Target> StartAsync(string name)
    {
        if (name == "direct")
        {
            return new Target(name, $"http://127.0.0.1:{upstreamPort}/v1/chat/completions", []);
        }
        var log = Path.Combine(work, name + ".log");
        var process = name == "passthrough"
            ? PinnedProcess.Start(0, log, "dotnet", typeof(TargetFactory).Assembly.Location, "passthrough",
                HttpPort.ToString(CultureInfo.InvariantCulture), $"http://127.0.0.1:{upstreamPort}/")
            : PinnedProcess.Start(0, log, ShippedRuntimeSettings, "dotnet", Path.Combine(root, "services/edge/bin/Release/net10.0/gateway.dll"),
                "--config", WriteConfig(name));
        await process.WaitForPortAsync(HttpPort, TimeSpan.FromSeconds(60));
        var prompt = name == "governed" ? await StorePromptAsync() : null;
        return new Target(name, $"http://127.0.0.1:{HttpPort}/v1/chat/completions", [process], prompt);
    }

    // Creates the prompt's first version through the admin API and points the production label at it.
    private static async Task<string> StorePromptAsync()
    {
        using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}") };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", AdminKey);
        var created = await admin.PostAsJsonAsync("/admin/v1/prompts/load-system/versions", new
        {
            type = "chat",
            messages = new[] { new { role = "system", content = "You are the {{product}} assistant. Be terse." } },
            variables = new[] { new { name = "product", type = "string", required = true } },
        });
        created.EnsureSuccessStatusCode();
        var labelled = await admin.PutAsJsonAsync("/admin/v1/prompts/load-system/labels/production", new { version = 1 });
        labelled.EnsureSuccessStatusCode();
        return PromptReference;
    }

    // The databases sit in a folder of their own: the gateway watches its configuration file's folder for edits,
    // and every database write there would wake that watcher.
    // "gateway": key auth, routing and trace capture (what every request pays). "governed": the same plus every
    // guard detector with pseudonymisation and injection screening, a budget and rate limits on the key, and a
    // versioned prompt rendered into every request (StorePromptAsync).
    private string WriteConfig(string name)
    {
        var governance = name != "governed" ? "" : """
            guard:
              fail_closed: true
              policies:
                default:
                  entities: { default: audit, CREDIT_CARD: block, US_SSN: block, SECRET: block, PERSON: pseudonymize, EMAIL: pseudonymize }
                  injection: audit
              assign:
                - { scope: {}, policy: default }
            budgets:
              - { name: load-monthly, scope: { team: load }, limit_usd: 1000000000, period: month, alerts: [0.8], hard_cap: true }
            rate_limits:
              - { name: load-limits, scope: { team: load }, requests_per_minute: 100000000, tokens_per_minute: 2000000000, concurrent_requests: 10000 }
            """;
        var path = Path.Combine(work, name + ".yaml");
        File.WriteAllText(path, $$"""
            server: { http: 127.0.0.1:{{HttpPort}}, grpc: 127.0.0.1:{{GrpcPort}}, admin_key: {{AdminKey}} }
            storage: { state: "sqlite://{{work}}/data/{{name}}-state.db", traces: "sqlite://{{work}}/data/{{name}}-traces.db" }
            providers:
              fake: { kind: openai, base_url: "http://127.0.0.1:{{upstreamPort}}/v1" }
            models:
              gpt-4o: { targets: [{ provider: fake, model: gpt-4o }], price: { input: 2.5, output: 10 } }
            keys:
              - { name: load, key: {{Key}}, team: load, project: bench, environment: load }
            {{governance}}
            """);
        return path;
    }
}
