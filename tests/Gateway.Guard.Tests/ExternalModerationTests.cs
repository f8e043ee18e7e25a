using System.ClientModel;
using System.Text.Json;
using Gateway.Testing;
using Gateway.Testing.Fakes;
using OpenAI;
using OpenAI.Chat;

namespace Gateway.Guard.Tests;

// guard.moderation.external end to end: the whole gateway, a fake OpenAI provider and a fake OpenAI
// moderation endpoint (both real Kestrel servers speaking the real wire formats), called with the OpenAI SDK.
public sealed class ExternalModerationTests : IAsyncLifetime
{
    private const string KeyVariable = "GATEWAY_GUARD_TEST_MODERATION_KEY";

    private FakeOpenAi _provider = null!;
    private FakeModeration _moderation = null!;
    private TestGateway? _gateway;

    public async ValueTask InitializeAsync()
    {
        Environment.SetEnvironmentVariable(KeyVariable, "mod-key-0123456789");
        _provider = await FakeOpenAi.StartNewAsync();
        _moderation = await FakeModeration.StartNewAsync();
        _moderation.Triggers["violence"] = ["blow up the"];
        _moderation.Triggers["self-harm/intent"] = ["end it all"];
    }

    public async ValueTask DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }
        await _provider.DisposeAsync();
        await _moderation.DisposeAsync();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<ChatClient> StartAsync(string onError = "fail_closed", int timeoutMs = 2000, bool output = false)
    {
        _gateway = await TestGateway.StartAsync($$"""
            providers:
              openai: { kind: openai, base_url: "{{_provider.Url}}v1" }
            models:
              gpt-4o:
                targets: [{ provider: openai, model: gpt-4o }]
            keys:
            {{TestGateway.Key()}}
            guard:
              policies:
                strict:
                  entities: { default: redact, EMAIL: pseudonymize }
              assign: [{ scope: {}, policy: strict }]
              moderation:
                external:
                  url: "{{_moderation.Url}}v1/moderations"
                  api_key_env: {{KeyVariable}}
                  model: omni-moderation-latest
                  timeout_ms: {{timeoutMs}}
                  on_error: {{onError}}
                  output: {{(output ? "true" : "false")}}
                  categories: { default: block, self-harm/intent: audit }
            """);
        return new OpenAIClient(new ApiKeyCredential(TestGateway.DefaultKey), new OpenAIClientOptions { Endpoint = new Uri(_gateway.HttpBase, "/v1") })
            .GetChatClient("gpt-4o");
    }

    private static (int Status, string Code) Error(ClientResultException e)
    {
        using var body = JsonDocument.Parse(e.GetRawResponse()!.Content.ToString());
        return (e.Status, body.RootElement.GetProperty("error").GetProperty("code").GetString()!);
    }

    private async Task<Contracts.Traces.V1.TraceEvent> TraceAsync(System.ClientModel.Primitives.PipelineResponse response)
        => await _gateway!.TraceAsync(response.Headers.TryGetValue("x-request-id", out var id) ? id! : throw new InvalidOperationException("no x-request-id"));

    [Fact]
    public async Task Flagged_BlockedWithContentPolicyCodeBeforeAnyProviderCall()
    {
        var chat = await StartAsync();

        var e = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("How do I blow up the old server room?")], cancellationToken: Ct));

        Assert.Equal((400, "content_policy_violation"), Error(e));
        Assert.Contains("MODERATION_EXTERNAL_VIOLENCE", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, _provider.CallCount);
        var sent = Assert.Single(_moderation.Requests);
        Assert.Equal("Bearer mod-key-0123456789", sent.Headers["authorization"]);
        using var body = JsonDocument.Parse(sent.Body);
        Assert.Equal("omni-moderation-latest", body.RootElement.GetProperty("model").GetString());
        Assert.Equal("How do I blow up the old server room?", body.RootElement.GetProperty("input")[0].GetString());
        var trace = await TraceAsync(e.GetRawResponse()!);
        Assert.Contains(trace.GuardFindings, f => f.EntityType == "MODERATION_EXTERNAL_VIOLENCE" && f.Action == "Block" && f.Direction == "input");
    }

    [Fact]
    public async Task NotFlagged_PassesAndAuditedCategoryIsOnTheTrace()
    {
        var chat = await StartAsync();

        var result = await chat.CompleteChatAsync([new UserChatMessage("Some days I want to end it all, but today I need a haiku.")], cancellationToken: Ct);

        Assert.StartsWith("Echo: Some days", result.Value.Content[0].Text, StringComparison.Ordinal);
        Assert.Equal(1, _provider.CallCount);
        var trace = await TraceAsync(result.GetRawResponse());
        Assert.Contains(trace.GuardFindings, f => f.EntityType == "MODERATION_EXTERNAL_SELF_HARM_INTENT" && f.Action == "Audit");
    }

    [Fact]
    public async Task ModerationSeesTextAfterPseudonymisation_NeverTheValue()
    {
        var chat = await StartAsync();

        await chat.CompleteChatAsync([new UserChatMessage("Reply to anna.berg@example.org about the invoice.")], cancellationToken: Ct);

        var sent = Assert.Single(_moderation.Requests);
        Assert.DoesNotContain("anna.berg", sent.Body, StringComparison.Ordinal);
        using var body = JsonDocument.Parse(sent.Body);
        Assert.Equal("Reply to <EMAIL_1> about the invoice.", body.RootElement.GetProperty("input")[0].GetString());
    }

    [Fact]
    public async Task EndpointFails_FailsClosedWith503ByDefault()
    {
        var chat = await StartAsync();
        _moderation.Status = 500;

        var e = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("Write a haiku about autumn.")], cancellationToken: Ct));

        Assert.Equal((503, "moderation_unavailable"), Error(e));
        Assert.Equal(0, _provider.CallCount);
    }

    [Fact]
    public async Task EndpointTimesOut_FailsClosedWith503()
    {
        var chat = await StartAsync(timeoutMs: 200);
        _moderation.Delay = TimeSpan.FromSeconds(5);

        var e = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("Write a haiku about autumn.")], cancellationToken: Ct));

        Assert.Equal((503, "moderation_unavailable"), Error(e));
        Assert.Equal(0, _provider.CallCount);
    }

    [Fact]
    public async Task EndpointFails_FailOpenPassesAndRecordsIt()
    {
        var chat = await StartAsync(onError: "fail_open");
        _moderation.Status = 503;

        var result = await chat.CompleteChatAsync([new UserChatMessage("Write a haiku about autumn.")], cancellationToken: Ct);

        Assert.Equal("Echo: Write a haiku about autumn.", result.Value.Content[0].Text);
        var trace = await TraceAsync(result.GetRawResponse());
        Assert.Contains(trace.GuardFindings, f => f.EntityType == "MODERATION_EXTERNAL_UNAVAILABLE" && f.Action == "Audit");
    }

    [Fact]
    public async Task Output_FlaggedResponseIsBlocked()
    {
        var chat = await StartAsync(output: true);
        _provider.Replies.Enqueue(FakeReply.Say("Step one: blow up the bridge."));

        var e = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("Tell me a story.")], cancellationToken: Ct));

        Assert.Equal((400, "output_blocked"), Error(e));
        Assert.Equal(2, _moderation.Requests.Count);
        Assert.Contains("Step one", _moderation.Requests.Last().Body, StringComparison.Ordinal);
    }
}
