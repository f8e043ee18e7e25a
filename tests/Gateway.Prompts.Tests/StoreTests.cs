using Gateway.Common.Errors;
using Gateway.Contracts.Prompts.V1;

namespace Gateway.Prompts.Tests;

public sealed class StoreTests
{
    private const string V1 = """{"messages":[{"role":"system","content":"You help with {{product}}."}],"variables":[{"name":"product","type":"string"}]}""";
    private const string V2 = """{"messages":[{"role":"system","content":"You help with {{product}}. Be brief."}],"variables":[{"name":"product","type":"string"}],"temperature":0.2}""";

    [Fact]
    public async Task CreateVersion_SameContentTwice_ReturnsTheExistingVersion()
    {
        await using var harness = new CatalogHarness();

        var first = await harness.CreateAsync("support", V1);
        // The same content, written differently (key order, whitespace, defaults spelled out), is the same version.
        var again = await harness.CreateAsync("support", """
            { "variables": [ { "type": "string", "name": "product", "required": true } ],
              "type": "chat", "messages": [ { "content": "You help with {{product}}.", "role": "system" } ] }
            """);

        Assert.True(first.Created);
        Assert.False(again.Created);
        Assert.Equal(1, again.Version.Version);
        Assert.Equal(first.Version.ContentHash, again.Version.ContentHash);
        Assert.Single((await harness.Catalog.ListVersionsAsync(new ListVersionsRequest { Name = "support" }, CancellationToken.None)).Versions);
    }

    [Fact]
    public async Task CreateVersion_NewContent_AddsTheNextVersionAndLeavesEarlierOnesUnchanged()
    {
        await using var harness = new CatalogHarness();
        var first = await harness.CreateAsync("support", V1, "first");

        var second = await harness.CreateAsync("support", V2, "shorter answers");

        Assert.Equal(2, second.Version.Version);
        Assert.Equal("shorter answers", second.Version.Message);
        Assert.Equal("tester", second.Version.Author);
        var stored = await harness.Catalog.GetVersionAsync(new GetVersionRequest { Name = "support", Version = 1 }, CancellationToken.None);
        Assert.Equal(first.Version.DefinitionJson, stored.DefinitionJson);
        Assert.Equal(first.Version.ContentHash, stored.ContentHash);
        Assert.Equal("first", stored.Message);
        Assert.NotEqual(first.Version.ContentHash, second.Version.ContentHash);
    }

    [Fact]
    public async Task Diff_TwoVersions_ShowsTheChangedLines()
    {
        await using var harness = new CatalogHarness();
        await harness.CreateAsync("support", V1);
        await harness.CreateAsync("support", V2);

        var diff = await harness.Catalog.DiffAsync(new DiffRequest { Name = "support", FromVersion = 1, ToVersion = 2 }, CancellationToken.None);

        Assert.Contains(diff.Lines, l => l.Op == "-" && l.Text.Contains("You help with {{product}}.\"", StringComparison.Ordinal));
        Assert.Contains(diff.Lines, l => l.Op == "+" && l.Text.Contains("Be brief.", StringComparison.Ordinal));
        Assert.Contains(diff.Lines, l => l.Op == "+" && l.Text.Contains("\"temperature\": 0.2", StringComparison.Ordinal));
        Assert.Contains(diff.Lines, l => l.Op == "=" && l.Text.Contains("\"type\": \"chat\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SetLabel_MovedTwice_ResolvesTheNewVersionAndKeepsHistory()
    {
        await using var harness = new CatalogHarness();
        await harness.CreateAsync("support", V1);
        await harness.CreateAsync("support", V2);
        await harness.Catalog.SetLabelAsync(new SetLabelRequest { Name = "support", Label = "production", Version = 2, Actor = "alice", Admin = true }, CancellationToken.None);
        Assert.Equal(2, (await harness.ResolveAsync("support", """{"product":"x"}""")).Version);

        await harness.Catalog.SetLabelAsync(new SetLabelRequest { Name = "support", Label = "production", Version = 1, Actor = "bob", Admin = true }, CancellationToken.None);

        var resolved = await harness.ResolveAsync("support", """{"product":"x"}""");
        Assert.Equal(1, resolved.Version);
        Assert.Equal("production", resolved.Label);
        Assert.Equal(2, (await harness.ResolveAsync("support", """{"product":"x"}""", label: "latest")).Version);
        var history = (await harness.Catalog.LabelHistoryAsync(new LabelHistoryRequest { Name = "support", Label = "production" }, CancellationToken.None)).Changes;
        Assert.Equal([(0, 2, "alice"), (2, 1, "bob")], history.Select(c => (c.FromVersion, c.ToVersion, c.Actor)));
    }

    [Fact]
    public async Task SetLabel_ProtectedWithoutAdmin_IsRefusedAndChangesNothing()
    {
        await using var harness = new CatalogHarness();
        await harness.CreateAsync("support", V1);
        await harness.CreateAsync("support", V2);
        await harness.Catalog.SetLabelAsync(new SetLabelRequest { Name = "support", Label = "production", Version = 1, Admin = true }, CancellationToken.None);

        var error = await Assert.ThrowsAsync<GatewayException>(() => harness.Catalog.SetLabelAsync(new SetLabelRequest { Name = "support", Label = "production", Version = 2, Actor = "key:ci" }, CancellationToken.None));
        var staging = await harness.Catalog.SetLabelAsync(new SetLabelRequest { Name = "support", Label = "staging", Version = 2, Actor = "key:ci" }, CancellationToken.None);

        Assert.Equal(ErrorKind.PermissionDenied, error.Kind);
        Assert.Equal(1, (await harness.ResolveAsync("support", """{"product":"x"}""", label: "production")).Version);
        Assert.Equal(2, staging.ToVersion);
    }

    [Fact]
    public async Task Resolve_UnknownPromptVersionOrLabel_Is404NamingIt()
    {
        await using var harness = new CatalogHarness();
        await harness.CreateAsync("support", V1);

        var prompt = await Assert.ThrowsAsync<GatewayException>(() => harness.ResolveAsync("nope"));
        var version = await Assert.ThrowsAsync<GatewayException>(() => harness.ResolveAsync("support", """{"product":"x"}""", version: 7));
        var label = await Assert.ThrowsAsync<GatewayException>(() => harness.ResolveAsync("support", """{"product":"x"}""", label: "canary"));

        Assert.Equal((ErrorKind.NotFound, "prompt_not_found"), (prompt.Kind, prompt.Code));
        Assert.Equal((ErrorKind.NotFound, "prompt_version_not_found"), (version.Kind, version.Code));
        Assert.Contains("canary", label.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateVersion_TemplateUsesUndeclaredVariable_IsRefused()
    {
        await using var harness = new CatalogHarness();

        var error = await Assert.ThrowsAsync<GatewayException>(() => harness.CreateAsync("bad", """{"messages":[{"role":"user","content":"Hi {{name}}"}]}"""));

        Assert.Equal(ErrorKind.InvalidRequest, error.Kind);
        Assert.Equal("messages[0].content", error.Param);
        Assert.Empty((await harness.Catalog.ListPromptsAsync(CancellationToken.None)).Prompts);
    }

    [Fact]
    public async Task CreateVersion_ConcurrentWriters_GetDistinctVersionsAndDedupIdenticalContent()
    {
        await using var harness = new CatalogHarness();

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => harness.CreateAsync("busy", $$"""{"text":"note {{i % 10}}"}""")));

        Assert.Equal(10, results.Count(r => r.Created));
        Assert.Equal(Enumerable.Range(1, 10), results.Where(r => r.Created).Select(r => r.Version.Version).Order());
        Assert.All(results.GroupBy(r => r.Version.ContentHash), g => Assert.Single(g.Select(r => r.Version.Version).Distinct()));
    }
}
