using System.Collections.Concurrent;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Gateway.Mcp.Tests;

// Server-initiated requests go to the client session whose call caused them, with calls of several sessions
// in flight at once: over Streamable HTTP each session has its own upstream session; over stdio (one shared
// session) a request that cannot be attributed is refused, never handed to another client.
public sealed class SessionRoutingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Text(CallToolResult result) => string.Concat(result.Content.OfType<TextContentBlock>().Select(t => t.Text));

    private static string PromptOf(CreateMessageRequestParams? request)
        => string.Concat(request?.Messages.SelectMany(m => m.Content.OfType<TextContentBlock>()).Select(t => t.Text) ?? []);

    // A client whose sampling handler records what it was asked and answers with its own name once `both` is
    // released, so the two calls are surely in flight together when each sampling request arrives.
    private static McpClientOptions Sampler(string name, ConcurrentBag<string> asked, TaskCompletionSource arrived, Task both) => new()
    {
        Handlers = new McpClientHandlers
        {
            SamplingHandler = async (request, _, ct) =>
            {
                asked.Add(PromptOf(request));
                arrived.TrySetResult();
                await both.WaitAsync(TimeSpan.FromSeconds(10), ct);
                return new CreateMessageResult { Model = "test", Role = Role.Assistant, Content = [new TextContentBlock { Text = "answered by " + name }] };
            },
        },
    };

    [Fact]
    public async Task Sampling_TwoSessionsInFlightOverStreamableHttp_EachGoesToItsOwnSession()
    {
        McpServers.Require();
        await using var everything = await EverythingHttpServer.StartAsync();
        await using var gateway = await TestGateway.StartAsync($"""
            {McpServers.Keys}
            mcp:
              servers:
                remote: {"{"} transport: streamable-http, url: "{everything.Url}" {"}"}
              rules:
                - {"{"} roles: [admin], allow: ["*"] {"}"}
            """);
        var (askedA, askedB) = (new ConcurrentBag<string>(), new ConcurrentBag<string>());
        var (arrivedA, arrivedB) = (new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        var both = Task.WhenAll(arrivedA.Task, arrivedB.Task);
        await using var a = await McpServers.ConnectAsync(gateway, McpServers.AdminRoleKey, options: Sampler("alpha", askedA, arrivedA, both));
        await using var b = await McpServers.ConnectAsync(gateway, McpServers.AdminRoleKey, options: Sampler("beta", askedB, arrivedB, both));

        var callA = a.CallToolAsync("remote__trigger-sampling-request", new Dictionary<string, object?> { ["prompt"] = "question from alpha" }, cancellationToken: Ct).AsTask();
        var callB = b.CallToolAsync("remote__trigger-sampling-request", new Dictionary<string, object?> { ["prompt"] = "question from beta" }, cancellationToken: Ct).AsTask();
        var results = await Task.WhenAll(callA, callB).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Contains("answered by alpha", Text(results[0]));
        Assert.Contains("answered by beta", Text(results[1]));
        Assert.Contains("question from alpha", Assert.Single(askedA));
        Assert.Contains("question from beta", Assert.Single(askedB));
    }

    [Fact]
    public async Task Sampling_TwoSessionsInFlightOverStdio_IsNeverHandedToTheOtherSession()
    {
        McpServers.Require();
        await using var gateway = await TestGateway.StartAsync($"""
            {McpServers.Keys}
            mcp:
              servers:
            {McpServers.Stdio("local", McpServers.Everything)}
              rules:
                - {"{"} roles: [admin], allow: ["*"] {"}"}
            """);
        var (askedA, askedB) = (new ConcurrentBag<string>(), new ConcurrentBag<string>());
        var (arrivedA, arrivedB) = (new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        // Released at once: on a shared stdio session the second request may be refused, so nobody waits for it.
        await using var a = await McpServers.ConnectAsync(gateway, McpServers.AdminRoleKey, options: Sampler("alpha", askedA, arrivedA, Task.CompletedTask));
        await using var b = await McpServers.ConnectAsync(gateway, McpServers.AdminRoleKey, options: Sampler("beta", askedB, arrivedB, Task.CompletedTask));

        async Task<string> CallAsync(McpClient client, string prompt)
        {
            try
            {
                return Text(await client.CallToolAsync("local__trigger-sampling-request", new Dictionary<string, object?> { ["prompt"] = prompt }, cancellationToken: Ct));
            }
            catch (McpProtocolException error)
            {
                return error.Message;
            }
        }
        var results = await Task.WhenAll(CallAsync(a, "question from alpha"), CallAsync(b, "question from beta")).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.All(askedA, p => Assert.Contains("alpha", p));
        Assert.All(askedB, p => Assert.Contains("beta", p));
        Assert.DoesNotContain("answered by beta", results[0]);
        Assert.DoesNotContain("answered by alpha", results[1]);
        Assert.All(results, r => Assert.True(r.Contains("answered by", StringComparison.Ordinal) || r.Contains("cannot be attributed", StringComparison.Ordinal), r));
    }
}
