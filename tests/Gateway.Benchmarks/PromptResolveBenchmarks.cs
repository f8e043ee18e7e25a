using BenchmarkDotNet.Attributes;
using Gateway.Common.Configuration;
using Gateway.Contracts.Inference.V1;
using Gateway.Contracts.Prompts.V1;
using Gateway.Prompts;
using Gateway.Prompts.Store;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Benchmarks;

// Resolving and rendering a prompt on the request path, cached (labels and compiled template in memory):
// a two-message chat template with three variables, by label, plain and inside a running experiment.
[MemoryDiagnoser]
public class PromptResolveBenchmarks
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "gateway-bench-prompts", Guid.NewGuid().ToString("N"));
    private PromptStore _store = null!;
    private ConfigMonitor _monitor = null!;
    private PromptCatalog _catalog = null!;
    private ResolveRequest _byLabel = null!;
    private ResolveRequest _inExperiment = null!;

    [GlobalSetup]
    public void Setup()
    {
        Directory.CreateDirectory(_directory);
        var config = new GatewayConfig { Storage = new StorageConfig { State = $"sqlite://{_directory}/state.db" } };
        _store = PromptStore.Open(config.Storage.State, TimeProvider.System);
        _monitor = new ConfigMonitor(config, null, NullLogger<ConfigMonitor>.Instance);
        _catalog = new PromptCatalog(_store, _monitor, new DiscardEventBus(), TimeProvider.System, NullLogger<PromptCatalog>.Instance);
        const string definition = """
            {"messages":[{"role":"system","content":"You are the {{product}} assistant for {{customer}}. Reply in {{language}}. Output JSON: {\"answer\": string}."},
                         {"role":"user","content":"Context: {{product}} account of {{customer}}."}],
             "variables":[{"name":"product"},{"name":"customer"},{"name":"language","default":"English"}],"model":"gpt-4o","temperature":0.2}
            """;
        foreach (var name in new[] { "support", "tone" })
        {
            _catalog.CreateVersionAsync(new CreateVersionRequest { Name = name, DefinitionJson = definition, Author = "bench" }, CancellationToken.None).GetAwaiter().GetResult();
            _catalog.CreateVersionAsync(new CreateVersionRequest { Name = name, DefinitionJson = definition.Replace("assistant", "expert", StringComparison.Ordinal), Author = "bench" }, CancellationToken.None).GetAwaiter().GetResult();
            _catalog.SetLabelAsync(new SetLabelRequest { Name = name, Label = "production", Version = 1, Admin = true }, CancellationToken.None).GetAwaiter().GetResult();
        }
        _catalog.StartExperimentAsync(new StartExperimentRequest
        {
            Id = "tone-ab", Prompt = "tone", Label = "production", Admin = true,
            Arms = { new Arm { Name = "a", Version = 1, Weight = 50 }, new Arm { Name = "b", Version = 2, Weight = 50 } },
        }, CancellationToken.None).GetAwaiter().GetResult();
        const string variables = """{"product":"Gateway","customer":"ACME Corp","language":"Deutsch"}""";
        _byLabel = new ResolveRequest { Reference = new PromptReference { Id = "support", Label = "production", VariablesJson = variables }, User = "alice", KeyName = "k" };
        _inExperiment = new ResolveRequest { Reference = new PromptReference { Id = "tone", Label = "production", VariablesJson = variables }, User = "alice", KeyName = "k" };
        // Warm the cache: the benchmark measures the request path after the first resolution.
        Resolve();
        ResolveInExperiment();
    }

    [Benchmark]
    public ResolvedPrompt Resolve() => _catalog.ResolveAsync(_byLabel, CancellationToken.None).GetAwaiter().GetResult();

    [Benchmark]
    public ResolvedPrompt ResolveInExperiment() => _catalog.ResolveAsync(_inExperiment, CancellationToken.None).GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup()
    {
        _monitor.Dispose();
        _store.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(_directory, recursive: true);
    }
}
