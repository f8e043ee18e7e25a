using System.ClientModel;
using System.Net.Http.Headers;
using System.Text;
using Gateway.Testing.Fakes;
using OpenAI;
using OpenAI.Chat;

namespace Gateway.Functional.Tests.Streaming;

// A stream either ends with [DONE] or with an error event and an aborted connection; failover happens only
// before the first byte reached the client.
public sealed class StreamSemanticsTests : IAsyncLifetime
{
    private FakeOpenAi _primary = null!;
    private FakeOpenAi _backup = null!;
    private TestGateway _gateway = null!;

    public async ValueTask InitializeAsync()
    {
        _primary = await FakeOpenAi.StartNewAsync();
        _backup = await FakeOpenAi.StartNewAsync();
        _gateway = await TestGateway.StartAsync($$"""
            providers:
              primary: { kind: openai, base_url: "{{_primary.Url}}v1" }
              backup: { kind: openai, base_url: "{{_backup.Url}}v1" }
            models:
              main:
                targets: [{ provider: primary, model: m1 }]
                fallbacks: [spare]
              spare:
                targets: [{ provider: backup, model: m2 }]
            keys:
            {{TestGateway.Key()}}
            """);
    }

    public async ValueTask DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _primary.DisposeAsync();
        await _backup.DisposeAsync();
    }

    [Fact]
    public async Task Stream_UpstreamDropsMidway_ClientGetsErrorEventAndAbortNotDone()
    {
        _primary.Replies.Enqueue(new FakeReply { Text = "this answer will be cut off halfway through", DropAfterChunks = 3 });
        using var http = new HttpClient { BaseAddress = _gateway.HttpBase };
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"main","stream":true,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestGateway.DefaultKey);

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var (text, aborted) = await StreamReading.ReadToEndOrAbortAsync(response, TestContext.Current.CancellationToken);
        Assert.True(aborted, "the connection must be aborted, not closed cleanly: " + text);
        Assert.Contains("\"content\":\"thi\"", text);
        Assert.Contains("data: {\"error\":", text);
        Assert.DoesNotContain("[DONE]", text);
        Assert.Equal(0, _backup.CallCount);
    }

    [Fact]
    public async Task Stream_UpstreamDrops_OpenAiSdkSeesFailureNotSuccess()
    {
        _primary.Replies.Enqueue(new FakeReply { Text = "partial partial partial", DropAfterChunks = 2 });
        var chat = new OpenAIClient(new ApiKeyCredential(TestGateway.DefaultKey), new OpenAIClientOptions { Endpoint = new Uri(_gateway.HttpBase, "/v1") }).GetChatClient("main");

        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await foreach (var _ in chat.CompleteChatStreamingAsync([new UserChatMessage("hi")], cancellationToken: TestContext.Current.CancellationToken))
            {
            }
        });
    }

    [Fact]
    public async Task Stream_PrimaryFailsBeforeFirstByte_FallsBackAndSucceeds()
    {
        _primary.Replies.Enqueue(FakeReply.Error(503, """{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}"""));
        _backup.Replies.Enqueue(FakeReply.Say("from the backup"));
        using var http = new HttpClient { BaseAddress = _gateway.HttpBase };
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"main","stream":true,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestGateway.DefaultKey);

        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("spare", response.Headers.GetValues("x-gateway-model").Single());
        Assert.Equal("backup", response.Headers.GetValues("x-gateway-provider").Single());
        Assert.Equal("2", response.Headers.GetValues("x-gateway-attempts").Single());
        Assert.EndsWith("data: [DONE]\n\n", text);
        Assert.Contains("\"content\":\"fro\"", text);
    }

    [Fact]
    public async Task Chat_ClientOwnBadRequest_DoesNotFallBack()
    {
        _primary.Replies.Enqueue(FakeReply.Error(400, """{"error":{"message":"Invalid 'messages[0]'","type":"invalid_request_error","param":"messages","code":null}}"""));
        var chat = new OpenAIClient(new ApiKeyCredential(TestGateway.DefaultKey), new OpenAIClientOptions { Endpoint = new Uri(_gateway.HttpBase, "/v1") }).GetChatClient("main");

        var error = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(400, error.Status);
        Assert.Equal(0, _backup.CallCount);
    }

    [Fact]
    public async Task Chat_PrimaryDown_FallbackServesAndHeadersSaySo()
    {
        await _primary.DisposeAsync(); // connection refused from now on
        var chat = new OpenAIClient(new ApiKeyCredential(TestGateway.DefaultKey), new OpenAIClientOptions { Endpoint = new Uri(_gateway.HttpBase, "/v1") }).GetChatClient("main");

        var result = await chat.CompleteChatAsync([new UserChatMessage("anyone?")], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("Echo: anyone?", result.Value.Content[0].Text);
        var headers = result.GetRawResponse().Headers;
        Assert.True(headers.TryGetValue("x-gateway-model", out var model));
        Assert.Equal("spare", model);
    }
}
