using System.ClientModel;
using Anthropic;
using Anthropic.Models.Messages;
using Gateway.Testing.Fakes;
using OpenAI;
using OpenAI.Chat;

namespace Gateway.Functional.Tests;

// One public model name, served in turn by every provider kind: clients never change code to switch.
public sealed class ProviderMatrixTests : IAsyncLifetime
{
    private FakeOpenAi _openAi = null!;
    private FakeOpenAi _azure = null!;
    private FakeAnthropic _anthropic = null!;
    private FakeGemini _gemini = null!;
    private FakeBedrock _bedrock = null!;
    private FakeVertex _vertex = null!;
    private TestGateway _gateway = null!;

    public static TheoryData<string> Kinds => ["openai", "azure-openai", "anthropic", "gemini", "bedrock", "vertex"];

    public async ValueTask InitializeAsync()
    {
        _openAi = await FakeOpenAi.StartNewAsync();
        _azure = await FakeOpenAi.StartNewAsync();
        _anthropic = await FakeAnthropic.StartNewAsync("sk-ant-upstream");
        _gemini = await FakeGemini.StartNewAsync("gemini-upstream-key");
        _bedrock = await FakeBedrock.StartNewAsync("AKIAMATRIXTEST000001", "matrix/secret/0123456789abcdefghijklm");
        _vertex = await FakeVertex.StartNewAsync();
        var serviceAccount = _vertex.ServiceAccountJson().Replace("'", "''", StringComparison.Ordinal);
        _gateway = await TestGateway.StartAsync($$"""
            providers:
              openai: { kind: openai, base_url: "{{_openAi.Url}}v1", api_key: sk-openai-upstream }
              azure: { kind: azure-openai, base_url: "{{_azure.Url}}", api_key: azure-upstream-key, api_version: "2024-10-21" }
              anthropic: { kind: anthropic, base_url: "{{_anthropic.Url}}", api_key: sk-ant-upstream }
              gemini: { kind: gemini, base_url: "{{_gemini.Url}}", api_key: gemini-upstream-key }
              bedrock: { kind: bedrock, region: us-east-1, base_url: "{{_bedrock.Url}}", aws: { access_key_id: AKIAMATRIXTEST000001, secret_access_key: "matrix/secret/0123456789abcdefghijklm" } }
              vertex: { kind: vertex, region: us-central1, project: {{_vertex.Project}}, base_url: "{{_vertex.Url}}", google: { service_account_json: '{{serviceAccount}}' } }
            models:
              assistant-openai: { targets: [{ provider: openai, model: gpt-4o }] }
              assistant-azure-openai: { targets: [{ provider: azure, model: gpt-4o-prod }] }
              assistant-anthropic: { targets: [{ provider: anthropic, model: claude-sonnet-4-20250514 }] }
              assistant-gemini: { targets: [{ provider: gemini, model: gemini-2.5-flash }] }
              assistant-bedrock: { targets: [{ provider: bedrock, model: "amazon.nova-pro-v1:0" }] }
              assistant-vertex: { targets: [{ provider: vertex, model: gemini-2.5-flash }] }
            keys:
            {{TestGateway.Key()}}
            """);
    }

    public async ValueTask DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _openAi.DisposeAsync();
        await _azure.DisposeAsync();
        await _anthropic.DisposeAsync();
        await _gemini.DisposeAsync();
        await _bedrock.DisposeAsync();
        await _vertex.DisposeAsync();
    }

    private FakeUpstream Upstream(string kind) => kind switch
    {
        "openai" => _openAi,
        "azure-openai" => _azure,
        "anthropic" => _anthropic,
        "bedrock" => _bedrock,
        "vertex" => _vertex,
        _ => _gemini,
    };

    private ChatClient OpenAiChat(string kind)
        => new OpenAIClient(new ApiKeyCredential(TestGateway.DefaultKey), new OpenAIClientOptions { Endpoint = new Uri(_gateway.HttpBase, "/v1") })
            .GetChatClient("assistant-" + kind);

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task OpenAiSdk_Chat_AnswersThroughEveryProviderKind(string kind)
    {
        var result = await OpenAiChat(kind).CompleteChatAsync([new UserChatMessage("ping " + kind)], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("Echo: ping " + kind, result.Value.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, result.Value.FinishReason);
        Assert.True(result.Value.Usage.InputTokenCount > 0);
        Assert.True(result.GetRawResponse().Headers.TryGetValue("x-gateway-provider", out var provider));
        Assert.Equal(kind == "azure-openai" ? "azure" : kind, provider);
        // Model calls only: Vertex AI also receives the gateway's OAuth token exchange.
        Assert.Equal(1, Upstream(kind).Requests.Count(r => r.PathAndQuery != "/token"));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task OpenAiSdk_Stream_AnswersThroughEveryProviderKind(string kind)
    {
        var text = new System.Text.StringBuilder();
        ChatTokenUsage? usage = null;
        await foreach (var update in OpenAiChat(kind).CompleteChatStreamingAsync([new UserChatMessage("stream " + kind)], cancellationToken: TestContext.Current.CancellationToken))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
            usage = update.Usage ?? usage;
        }

        Assert.Equal("Echo: stream " + kind, text.ToString());
        Assert.NotNull(usage);
        Assert.True(usage.OutputTokenCount > 0);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task AnthropicSdk_Messages_AnswersThroughEveryProviderKind(string kind)
    {
        var client = new AnthropicClient { ApiKey = TestGateway.DefaultKey, BaseUrl = _gateway.HttpBase.ToString(), MaxRetries = 0 };

        var message = await client.Messages.Create(new MessageCreateParams
        {
            Model = "assistant-" + kind,
            MaxTokens = 128,
            Messages = [new UserMessageParam { Content = "hello " + kind }],
        }, TestContext.Current.CancellationToken);

        Assert.True(message.Content.Single().TryPickText(out var text));
        Assert.Equal("Echo: hello " + kind, text.Text);
        Assert.True(message.Usage.OutputTokens > 0);
    }
}
