using Gateway.Common.Configuration;
using Gateway.Edge;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Testing;

// The whole embedded gateway in this test process, on real loopback ports, started from a YAML config.
public sealed class TestGateway : IAsyncDisposable
{
    public const string DefaultKey = "test-key-0123456789abcdef";

    private readonly WebApplication _app;
    private readonly string _directory;
    private bool _restarted;

    private TestGateway(WebApplication app, string directory, int httpPort, int grpcPort)
    {
        _app = app;
        _directory = directory;
        HttpBase = new Uri($"http://127.0.0.1:{httpPort}");
        GrpcAddress = new Uri($"http://127.0.0.1:{grpcPort}");
    }

    public Uri HttpBase { get; }

    public Uri GrpcAddress { get; }

    public string ConfigPath => Path.Combine(_directory, "gateway.yaml");

    public IServiceProvider Services => _app.Services;

    public string DataDirectory => _directory;

    // `yaml` holds everything but `server` and `storage`, which the harness fills in (ports, temp files).
    // `redis` (redis://host:port) shares budget counters with other gateways started with the same URI.
    // `traces` replaces the SQLite trace store, e.g. with clickhouse://default:@127.0.0.1:PORT/db.
    // `state` replaces the SQLite state store, e.g. with postgres://postgres@127.0.0.1:PORT/postgres.
    // `server` adds keys under `server:` (indented two spaces each); `configure` adjusts the host before it is
    // built (a test log sink, an in-memory span exporter).
    public static async Task<TestGateway> StartAsync(string yaml, long bodyLimit = 4 * 1024 * 1024, string? redis = null, string? traces = null, string? state = null, string server = "", Action<WebApplicationBuilder>? configure = null)
    {
        var directory = Path.Combine(Path.GetTempPath(), "gateway-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        // A free port can be taken by another test process between FreePort.Get and the bind: try fresh ones.
        for (var attempt = 1; ; attempt++)
        {
            var httpPort = FreePort.Get();
            var grpcPort = FreePort.Get();
            var config = $"""
                server:
                  http: 127.0.0.1:{httpPort}
                  grpc: 127.0.0.1:{grpcPort}
                  admin_key: test-admin-key-0123456789
                  max_request_body_bytes: {bodyLimit}
                {server}
                storage:
                  state: {state ?? $"sqlite://{directory}/state.db"}
                  traces: {traces ?? $"sqlite://{directory}/traces.db"}
                {(redis is null ? "" : "  redis: " + redis)}
                {yaml}
                """;
            var path = Path.Combine(directory, "gateway.yaml");
            await File.WriteAllTextAsync(path, config);
            var app = EmbeddedGateway.Build(["--config", path], configure);
            try
            {
                await app.StartAsync();
            }
            catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException && attempt < 5)
            {
                await app.DisposeAsync();
                continue;
            }
            return new TestGateway(app, directory, httpPort, grpcPort);
        }
    }

    // The usual test setup: one provider entry per fake, models mapped onto them, one key.
    public static string Key(string name = "test", string team = "qa", string? key = null, string extra = "")
        => $"  - {{ name: {name}, key: \"{key ?? DefaultKey}\", team: {team}, project: gateway, environment: test{extra} }}";

    // Rewrites the configuration file as a person would and waits until the running gateway has reloaded it.
    // Returns the configuration now in force; throws the ConfigException if the gateway rejected the edit.
    public async Task<GatewayConfig> EditConfigAsync(Func<string, string> edit)
    {
        var monitor = Services.GetRequiredService<ConfigMonitor>();
        var outcome = new TaskCompletionSource<GatewayConfig>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChanged(GatewayConfig config) => outcome.TrySetResult(config);
        void OnRejected(ConfigException error) => outcome.TrySetException(error);
        monitor.Changed += OnChanged;
        monitor.Rejected += OnRejected;
        try
        {
            await File.WriteAllTextAsync(ConfigPath, edit(await File.ReadAllTextAsync(ConfigPath)));
            return await outcome.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            monitor.Changed -= OnChanged;
            monitor.Rejected -= OnRejected;
        }
    }

    // The stored trace of a request. Traces are written off the request path (the in-process bus), so this
    // waits until the store has it, up to `timeout`.
    public Task<Contracts.Traces.V1.TraceEvent> TraceAsync(string requestId, TimeSpan? timeout = null)
        => TraceAsync(Services, requestId, timeout);

    // The same, from the trace store of any host (a router, a traces service).
    public static async Task<Contracts.Traces.V1.TraceEvent> TraceAsync(IServiceProvider services, string requestId, TimeSpan? timeout = null)
    {
        var store = services.GetRequiredService<Traces.Storage.ITraceStore>();
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            if (await store.GetAsync(requestId, cancel.Token) is { } trace)
            {
                return trace;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(20), cancel.Token);
        }
    }

    // The one trace this gateway has stored, once it is there (for clients that do not expose x-request-id).
    public async Task<Contracts.Traces.V1.TraceEvent> SingleTraceAsync(TimeSpan? timeout = null)
    {
        var store = Services.GetRequiredService<Traces.Storage.ITraceStore>();
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var page = await store.QueryAsync(new Traces.Storage.TraceFilter(), cancel.Token);
            if (page.Traces.Count > 0)
            {
                return await TraceAsync(page.Traces.Single().RequestId, timeout);
            }
            await Task.Delay(TimeSpan.FromMilliseconds(20), cancel.Token);
        }
    }

    // Stops this gateway and starts a new one from the same configuration file and data directory (same
    // ports), as an operator's restart would. Use the returned gateway from then on.
    public async Task<TestGateway> RestartAsync()
    {
        _restarted = true;
        await _app.StopAsync();
        await _app.DisposeAsync();
        var app = EmbeddedGateway.Build(["--config", ConfigPath]);
        await app.StartAsync();
        return new TestGateway(app, _directory, HttpBase.Port, GrpcAddress.Port);
    }

    public async ValueTask DisposeAsync()
    {
        if (_restarted)
        {
            return;
        }
        await _app.StopAsync();
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // SQLite may still hold a file for a moment; the temp folder is cleaned up by the OS.
        }
    }
}
