using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace Gateway.Mcp.Tests;

// Upstream prompts and resources through the gateway (server-everything over stdio): namespaced like tools,
// filtered per role (the analyst rule denies everything__args-prompt and the blob resource template).
public sealed class PromptsResourcesTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PromptsList_NamespacedAndFilteredPerRole()
    {
        McpServers.Require();
        await using var admin = await McpServers.ConnectAsync(fixture.Gateway, McpServers.AdminRoleKey);
        await using var analyst = await McpServers.ConnectAsync(fixture.Gateway, McpServers.AnalystKey);

        var adminPrompts = (await admin.ListPromptsAsync(cancellationToken: Ct)).Select(p => p.Name).ToList();
        var analystPrompts = (await analyst.ListPromptsAsync(cancellationToken: Ct)).Select(p => p.Name).ToList();

        Assert.Contains("everything__args-prompt", adminPrompts);
        Assert.Contains("everything__simple-prompt", adminPrompts);
        Assert.Contains("everything__simple-prompt", analystPrompts);
        Assert.DoesNotContain("everything__args-prompt", analystPrompts);
    }

    [Fact]
    public async Task PromptsGet_Namespaced_RendersUpstreamPromptAndDeniesWhatTheRoleMayNotSee()
    {
        McpServers.Require();
        await using var admin = await McpServers.ConnectAsync(fixture.Gateway, McpServers.AdminRoleKey);
        await using var analyst = await McpServers.ConnectAsync(fixture.Gateway, McpServers.AnalystKey);

        var prompt = await admin.GetPromptAsync("everything__args-prompt", new Dictionary<string, object?> { ["city"] = "Lyon" }, cancellationToken: Ct);
        var error = await Assert.ThrowsAsync<McpProtocolException>(() => analyst.GetPromptAsync("everything__args-prompt", new Dictionary<string, object?> { ["city"] = "Lyon" }, cancellationToken: Ct).AsTask());

        Assert.Contains("Lyon", Assert.IsType<TextContentBlock>(Assert.Single(prompt.Messages).Content).Text);
        Assert.Equal(McpGateway.DeniedCode, (int)error.ErrorCode);
    }

    [Fact]
    public async Task Resources_ListTemplatesAndRead_RoutedToTheUpstreamThatServesThem()
    {
        McpServers.Require();
        await using var client = await McpServers.ConnectAsync(fixture.Gateway, McpServers.AdminRoleKey);

        var resources = await client.ListResourcesAsync(cancellationToken: Ct);
        var templates = await client.ListResourceTemplatesAsync(cancellationToken: Ct);
        var document = resources.First(r => r.Uri.StartsWith("demo://resource/static/document/", StringComparison.Ordinal));
        var read = await client.ReadResourceAsync(document.Uri, cancellationToken: Ct);
        var dynamic = await client.ReadResourceAsync("demo://resource/dynamic/text/7", cancellationToken: Ct);

        Assert.StartsWith("everything__", document.Name, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(Assert.IsType<TextResourceContents>(read.Contents[0]).Text));
        Assert.Contains(templates, t => t.UriTemplate == "demo://resource/dynamic/text/{resourceId}" && t.Name == "everything__Dynamic_Text_Resource");
        Assert.Contains("Resource 7", Assert.IsType<TextResourceContents>(Assert.Single(dynamic.Contents)).Text);
    }

    [Fact]
    public async Task ResourcesRead_DeniedTemplate_IsNotFoundForTheAnalyst()
    {
        McpServers.Require();
        await using var analyst = await McpServers.ConnectAsync(fixture.Gateway, McpServers.AnalystKey);

        var templates = (await analyst.ListResourceTemplatesAsync(cancellationToken: Ct)).Select(t => t.Name).ToList();
        var text = await analyst.ReadResourceAsync("demo://resource/dynamic/text/3", cancellationToken: Ct);
        var error = await Assert.ThrowsAsync<McpProtocolException>(() => analyst.ReadResourceAsync("demo://resource/dynamic/blob/3", cancellationToken: Ct).AsTask());

        Assert.Contains("everything__Dynamic_Text_Resource", templates);
        Assert.DoesNotContain("everything__Dynamic_Blob_Resource", templates);
        Assert.NotEmpty(text.Contents);
        Assert.Equal(-32002, (int)error.ErrorCode);
    }

    [Fact]
    public async Task Prompts_VirtualUnprefixed_ShowUpstreamNames()
    {
        McpServers.Require();
        await using var client = await McpServers.ConnectAsync(fixture.Gateway, McpServers.AdminRoleKey, "/mcp/everything-only");

        var prompts = (await client.ListPromptsAsync(cancellationToken: Ct)).Select(p => p.Name).ToList();
        var simple = await client.GetPromptAsync("simple-prompt", cancellationToken: Ct);

        Assert.Contains("simple-prompt", prompts);
        Assert.DoesNotContain(prompts, n => n.Contains("__", StringComparison.Ordinal));
        Assert.NotEmpty(simple.Messages);
    }
}
