using Gateway.Contracts.Prompts.V1;
using Gateway.Edge.Cli;

namespace Gateway.Prompts.Tests;

public sealed class SyncTests
{
    private const string SupportFile = """
        name: support
        message: first cut
        labels: [staging]
        model: gpt-4o-mini
        temperature: 0.2
        variables:
          - { name: product, type: string, required: true }
          - { name: verbose, type: boolean, default: false }
        messages:
          - role: system
            content: |
              You support {{product}}.{{#if verbose}} Explain in detail.{{/if}}
              Answer as JSON: {"answer": string}
          - { role: user, content: "Question follows." }
        """;

    [Fact]
    public async Task Sync_Folder_CreatesVersionsOnceAndIsIdempotent()
    {
        await using var harness = new CatalogHarness();
        var folder = Path.Combine(harness.DataDirectory, "prompts");
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, "support.yaml"), SupportFile, TestContext.Current.CancellationToken);
        await File.WriteAllTextAsync(Path.Combine(folder, "summarize.yml"), "text: \"Summarize: {{doc}}\"\nvariables: [{ name: doc }]\n", TestContext.Current.CancellationToken);

        var first = await PromptSync.SyncAsync(harness.Catalog, folder, "ci", CancellationToken.None);
        var second = await PromptSync.SyncAsync(harness.Catalog, folder, "ci", CancellationToken.None);

        Assert.Equal((2, 0, 1), (first.Created, first.Unchanged, first.LabelsMoved));
        Assert.Equal((0, 2, 0), (second.Created, second.Unchanged, second.LabelsMoved));
        var resolved = await harness.ResolveAsync("support", """{"product":"Gateway"}""", label: "staging");
        Assert.Equal("You support Gateway.\nAnswer as JSON: {\"answer\": string}\n", resolved.Messages[0].Content[0].Text);
        Assert.Equal(("gpt-4o-mini", 0.2), (resolved.Model, resolved.Temperature));
        Assert.Equal("Summarize: x", (await harness.ResolveAsync("summarize", """{"doc":"x"}""")).Messages[0].Content[0].Text);

        // An edit becomes version 2 and moves the file's label to it.
        await File.WriteAllTextAsync(Path.Combine(folder, "support.yaml"), SupportFile.Replace("temperature: 0.2", "temperature: 0.4", StringComparison.Ordinal), TestContext.Current.CancellationToken);
        var third = await PromptSync.SyncAsync(harness.Catalog, folder, "ci", CancellationToken.None);
        Assert.Equal((1, 1, 1), (third.Created, third.Unchanged, third.LabelsMoved));
        Assert.Equal(2, (await harness.ResolveAsync("support", """{"product":"G"}""", label: "staging")).Version);
        var version = await harness.Catalog.GetVersionAsync(new GetVersionRequest { Name = "support", Version = 1 }, CancellationToken.None);
        Assert.Equal(("first cut", "ci"), (version.Message, version.Author));
    }

    [Fact]
    public async Task SyncCommand_AgainstConfiguredStore_PrintsWhatItDidAndExitsZero()
    {
        await using var harness = new CatalogHarness();
        var folder = Path.Combine(harness.DataDirectory, "prompts");
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, "support.yaml"), SupportFile, TestContext.Current.CancellationToken);
        var config = Path.Combine(harness.DataDirectory, "gateway.yaml");
        await File.WriteAllTextAsync(config, $"storage:\n  state: sqlite://{harness.DataDirectory}/cli.db\n", TestContext.Current.CancellationToken);

        var output = new StringWriter();
        Assert.True(PromptsCommand.TryRun(["prompts", "sync", "--dir", folder, "--config", config], output, out var exitCode));
        var again = new StringWriter();
        PromptsCommand.TryRun(["prompts", "sync", "--dir", folder, "--config", config], again, out var againCode);

        Assert.Equal(0, exitCode);
        Assert.Contains("support: version 1 created", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("support: label staging 0 -> 1", output.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, againCode);
        Assert.Contains("0 created, 1 unchanged, 0 labels moved", again.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sync_BadFile_NamesTheFileAndField()
    {
        await using var harness = new CatalogHarness();
        var folder = Path.Combine(harness.DataDirectory, "bad");
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, "broken.yaml"), "messages:\n  - { role: wizard, content: hi }\n", TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<Common.Errors.GatewayException>(() => PromptSync.SyncAsync(harness.Catalog, folder, "ci", CancellationToken.None));

        Assert.Contains("broken.yaml", error.Message, StringComparison.Ordinal);
        Assert.Equal("messages[0].role", error.Param);
    }
}
