using Gateway.Testing.Fakes;
using Gateway.Testing.Servers;

namespace Gateway.Prompts.Tests;

// Two gateway processes' worth of services sharing one real PostgreSQL (no bus between them): a label moved
// through one is in force on the other within a second, through the store's change counter.
public sealed class ReplicaTests : IAsyncLifetime
{
    private PostgresServer? _postgres;

    public async ValueTask InitializeAsync() => _postgres = await PostgresServer.StartAsync();

    public async ValueTask DisposeAsync()
    {
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }
    }

    [Fact]
    public async Task LabelMove_OnOneGateway_TakesEffectOnTheOtherWithinASecond()
    {
        await using var upstream = await FakeOpenAi.StartNewAsync();
        await using var a = await PromptGateway.StartAsync(state: _postgres!.Uri, upstream: upstream);
        await using var b = await PromptGateway.StartAsync(state: _postgres.Uri, upstream: upstream);
        await a.CreateVersionAsync("support", """{"text":"one"}""");
        await a.CreateVersionAsync("support", """{"text":"two"}""");
        await a.SetLabelAsync("support", "production", 1);
        object Request() => new { model = "gpt-4o", prompt = new { id = "support", label = "production" } };
        // B resolves (and caches) version 1.
        Assert.Equal("1", (await b.ChatAsync(Request())).Headers.GetValues("x-gateway-prompt-version").Single());

        await a.SetLabelAsync("support", "production", 2);
        var moved = System.Diagnostics.Stopwatch.StartNew();
        string version;
        do
        {
            version = (await b.ChatAsync(Request())).Headers.GetValues("x-gateway-prompt-version").Single();
        }
        while (version != "2" && moved.Elapsed < TimeSpan.FromSeconds(5));

        Assert.Equal("2", version);
        Assert.True(moved.Elapsed < TimeSpan.FromSeconds(1), $"B served the old version for {moved.Elapsed.TotalMilliseconds:F0} ms");
        // And A, which made the change, serves it on the very next request.
        Assert.Equal("2", (await a.ChatAsync(Request())).Headers.GetValues("x-gateway-prompt-version").Single());
    }

    [Fact]
    public async Task CreateVersion_OnPostgres_DedupsAndNumbersLikeSqlite()
    {
        await using var harness = new CatalogHarness(_postgres!.Uri);
        var name = "pg" + Guid.NewGuid().ToString("N")[..8];

        var results = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => harness.CreateAsync(name, $$"""{"text":"n {{i % 4}}"}""")));

        Assert.Equal(4, results.Count(r => r.Created));
        Assert.Equal([1, 2, 3, 4], results.Where(r => r.Created).Select(r => r.Version.Version).Order());
    }
}
