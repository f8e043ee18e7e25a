using Gateway.Common.Configuration;
using Gateway.Common.Events;
using Gateway.Contracts.Prompts.V1;
using Gateway.Prompts;
using Gateway.Prompts.Store;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Prompts.Tests;

// A prompt catalog on its own SQLite file (or a given state URI), as the prompts service runs it.
public sealed class CatalogHarness : IAsyncDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "gateway-prompt-tests", Guid.NewGuid().ToString("N"));
    private readonly ConfigMonitor _monitor;

    public CatalogHarness(string? state = null)
    {
        Directory.CreateDirectory(_directory);
        var config = new GatewayConfig { Storage = new StorageConfig { State = state ?? $"sqlite://{_directory}/state.db" } };
        Store = PromptStore.Open(config.Storage.State, TimeProvider.System);
        _monitor = new ConfigMonitor(config, null, NullLogger<ConfigMonitor>.Instance);
        Catalog = new PromptCatalog(Store, _monitor, new DiscardEventBus(), TimeProvider.System, NullLogger<PromptCatalog>.Instance);
    }

    public PromptStore Store { get; }

    public PromptCatalog Catalog { get; }

    public string DataDirectory => _directory;

    public Task<CreateVersionResponse> CreateAsync(string name, string definitionJson, string message = "test")
        => Catalog.CreateVersionAsync(new CreateVersionRequest { Name = name, DefinitionJson = definitionJson, Message = message, Author = "tester" }, CancellationToken.None);

    public Task<ResolvedPrompt> ResolveAsync(string name, string? variablesJson = null, int? version = null, string label = "", string user = "")
    {
        var reference = new Contracts.Inference.V1.PromptReference { Id = name, Label = label, VariablesJson = variablesJson ?? "" };
        if (version is { } v)
        {
            reference.Version = v;
        }
        return Catalog.ResolveAsync(new ResolveRequest { Reference = reference, User = user, KeyName = "k" }, CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        _monitor.Dispose();
        await Store.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
