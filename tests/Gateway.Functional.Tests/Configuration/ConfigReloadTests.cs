using System.ClientModel;
using Gateway.Common.Configuration;
using Gateway.Testing.Fakes;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;
using OpenAI.Chat;

namespace Gateway.Functional.Tests.Configuration;

// Editing the YAML of a running gateway: applied without a restart, rejected when invalid, and never
// disturbing requests already in flight.
public sealed class ConfigReloadTests : IAsyncLifetime
{
    private const string NewKey = "new-key-0123456789abcdef";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    private FakeOpenAi _upstream = null!;
    private TestGateway _gateway = null!;

    public async ValueTask InitializeAsync()
    {
        _upstream = await FakeOpenAi.StartNewAsync();
        _gateway = await TestGateway.StartAsync($$"""
            providers:
              openai: { kind: openai, base_url: "{{_upstream.Url}}v1", api_key: sk-upstream-secret }
            models:
              gpt-4o:
                targets: [{ provider: openai, model: gpt-4o-2024-08-06 }]
                price: { input: 1, output: 2 }
            keys:
            {{TestGateway.Key()}}
            """);
    }

    public async ValueTask DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private ChatClient Chat(string model, string key = TestGateway.DefaultKey)
        => new OpenAIClient(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(_gateway.HttpBase, "/v1") }).GetChatClient(model);

    [Fact]
    public async Task Edit_AddKeyAndModel_NewKeyAndModelWorkWithoutRestart()
    {
        var refused = await Assert.ThrowsAsync<ClientResultException>(() => Chat("gpt-4o-mini", NewKey).CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal(401, refused.Status);

        var config = await _gateway.EditConfigAsync(yaml => yaml
            .Replace("models:\n", "models:\n  gpt-4o-mini:\n    targets: [{ provider: openai, model: gpt-4o-mini-2024-07-18 }]\n", StringComparison.Ordinal)
            .TrimEnd() + $"\n  - {{ name: new, key: \"{NewKey}\", team: qa, models: [gpt-4o-mini] }}\n");
        ChatCompletion completion = await Chat("gpt-4o-mini", NewKey).CompleteChatAsync([new UserChatMessage("hello after reload")], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Contains("gpt-4o-mini", config.Models.Keys);
        Assert.Equal("Echo: hello after reload", completion.Content[0].Text);
        Assert.Contains("\"model\":\"gpt-4o-mini-2024-07-18\"", _upstream.LastRequest.Body, StringComparison.Ordinal);
        var denied = await Assert.ThrowsAsync<ClientResultException>(() => Chat("gpt-4o", NewKey).CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal(403, denied.Status);
    }

    [Fact]
    public async Task Edit_Invalid_IsRejectedAndTheOldConfigurationKeepsServing()
    {
        var monitor = _gateway.Services.GetRequiredService<ConfigMonitor>();
        var before = monitor.Current;

        var rejected = await Assert.ThrowsAsync<ConfigException>(() => _gateway.EditConfigAsync(yaml => yaml
            .Replace("kind: openai", "kind: openia", StringComparison.Ordinal)
            .TrimEnd() + $"\n  - {{ name: new, key: \"{NewKey}\", team: qa }}\n"));
        ChatCompletion completion = await Chat("gpt-4o").CompleteChatAsync([new UserChatMessage("still serving")], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("providers.openai.kind", Assert.Single(rejected.Errors).Path);
        Assert.Equal("Echo: still serving", completion.Content[0].Text);
        var refused = await Assert.ThrowsAsync<ClientResultException>(() => Chat("gpt-4o", NewKey).CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal(401, refused.Status);
        Assert.Same(before, monitor.Current);
    }

    [Fact]
    public async Task Edit_WhileARequestIsInFlight_TheRequestCompletes()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _upstream.Received += _ => arrived.TrySetResult();
        _upstream.Replies.Enqueue(FakeReply.Say("answered after the reload") with { Gate = gate.Task });

        var inFlight = Chat("gpt-4o").CompleteChatAsync([new UserChatMessage("slow one")], cancellationToken: TestContext.Current.CancellationToken);
        await arrived.Task.WaitAsync(Timeout, TestContext.Current.CancellationToken);
        // The reload takes away the model and the key that the request in flight is using.
        await _gateway.EditConfigAsync(yaml => yaml
            .Replace("gpt-4o:", "gpt-4o-next:", StringComparison.Ordinal)
            .Replace(TestGateway.DefaultKey, NewKey, StringComparison.Ordinal));
        var refused = await Assert.ThrowsAsync<ClientResultException>(() => Chat("gpt-4o").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: TestContext.Current.CancellationToken));
        gate.SetResult();
        ChatCompletion completion = await inFlight.WaitAsync(Timeout, TestContext.Current.CancellationToken);

        Assert.Equal(401, refused.Status);
        Assert.Equal("answered after the reload", completion.Content[0].Text);
    }

    [Fact]
    public async Task Edit_PriceWhileARequestIsInFlight_TheRequestIsPricedUnderTheConfigurationItStartedWith()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _upstream.Received += _ => arrived.TrySetResult();
        _upstream.Replies.Enqueue(FakeReply.Say("priced") with { Gate = gate.Task, InputTokens = 1_000_000, OutputTokens = 1_000_000 });

        var inFlight = Chat("gpt-4o").CompleteChatAsync([new UserChatMessage("price me")], cancellationToken: TestContext.Current.CancellationToken);
        await arrived.Task.WaitAsync(Timeout, TestContext.Current.CancellationToken);
        await _gateway.EditConfigAsync(yaml => yaml.Replace("price: { input: 1, output: 2 }", "price: { input: 100, output: 200 }", StringComparison.Ordinal));
        gate.SetResult();
        var result = await inFlight.WaitAsync(Timeout, TestContext.Current.CancellationToken);
        Assert.True(result.GetRawResponse().Headers.TryGetValue("x-request-id", out var requestId));

        // One million tokens each way at $1 and $2 per million: the prices of the configuration the request began under.
        var trace = await _gateway.TraceAsync(requestId!);
        Assert.Equal(3.0, trace.CostUsd, 9);
    }
}
