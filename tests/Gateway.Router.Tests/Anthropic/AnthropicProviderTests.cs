using System.Text.Json;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Contracts.Inference.V1;
using Gateway.Router.Providers;
using Gateway.Router.Providers.Anthropic;
using Gateway.Testing.Fakes;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Router.Tests.Anthropic;

// The adapter over real HTTP against a fake that speaks Anthropic's wire format and errors.
public sealed class AnthropicProviderTests : IAsyncLifetime
{
    private const string UpstreamKey = "sk-ant-upstream-secret";

    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1_750_000_000));
    private readonly HttpClient _client = new();
    private FakeAnthropic _upstream = null!;
    private AnthropicProvider _provider = null!;
    private ProviderTarget _target = null!;

    public async ValueTask InitializeAsync()
    {
        _upstream = await FakeAnthropic.StartNewAsync(UpstreamKey);
        _provider = new AnthropicProvider(new ProviderHttp(new SingleClientFactory(_client)), _time);
        _target = new ProviderTarget("anthropic", new ProviderConfig { Kind = "anthropic", BaseUrl = _upstream.Url.ToString(), ApiKey = UpstreamKey, TimeoutSeconds = 10 }, "claude-sonnet-4-20250514", "claude-sonnet-4");
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _upstream.DisposeAsync();
    }

    [Fact]
    public async Task ChatAsync_PostsMessagesWithKeyVersionAndDefaultMaxTokens()
    {
        var response = await _provider.ChatAsync(_target, Request("Hello"), TestContext.Current.CancellationToken);

        Assert.Equal("Echo: Hello", response.Choices[0].Message.Content[0].Text);
        Assert.Equal(FinishReason.Stop, response.Choices[0].FinishReason);
        Assert.Equal((11, 7), (response.Usage.InputTokens, response.Usage.OutputTokens));
        Assert.Equal(1_750_000_000, response.Created);
        var sent = _upstream.LastRequest;
        Assert.Equal(("POST", "/v1/messages"), (sent.Method, sent.PathAndQuery));
        Assert.Equal(UpstreamKey, sent.Headers["x-api-key"]);
        Assert.Equal("2023-06-01", sent.Headers["anthropic-version"]);
        Assert.False(sent.Headers.ContainsKey("authorization"));
        using var body = JsonDocument.Parse(sent.Body);
        Assert.Equal("claude-sonnet-4-20250514", body.RootElement.GetProperty("model").GetString());
        Assert.Equal(4096, body.RootElement.GetProperty("max_tokens").GetInt32());
    }

    [Fact]
    public async Task ChatAsync_BaseUrlEndingInV1_StillPostsToV1Messages()
    {
        var target = _target with { Config = _target.Config with { BaseUrl = new Uri(_upstream.Url, "v1/").ToString() } };

        var response = await _provider.ChatAsync(target, Request("path"), TestContext.Current.CancellationToken);

        Assert.Equal("Echo: path", response.Choices[0].Message.Content[0].Text);
        Assert.Equal("/v1/messages", _upstream.LastRequest.PathAndQuery);
    }

    [Fact]
    public async Task StreamAsync_ToolCallAndThinking_ArriveAsNeutralChunks()
    {
        _upstream.Replies.Enqueue(new FakeReply { Thinking = "Use the tool.", Text = "On it.", ToolCalls = [new FakeToolCall("toolu_9", "lookup", """{"q":"näive"}""")] });

        var chunks = new List<ChatChunk>();
        await foreach (var chunk in _provider.StreamAsync(_target, Request("find"), TestContext.Current.CancellationToken))
        {
            chunks.Add(chunk);
        }

        var deltas = chunks.SelectMany(c => c.Choices).Select(c => c.Delta).ToList();
        Assert.Equal("Use the tool.", string.Concat(deltas.Select(d => d.Reasoning)));
        Assert.Equal("On it.", string.Concat(deltas.Select(d => d.Content)));
        Assert.Equal("""{"q":"näive"}""", string.Concat(deltas.SelectMany(d => d.ToolCalls).Select(c => c.Arguments)));
        Assert.Equal(FinishReason.ToolCalls, chunks.SelectMany(c => c.Choices).Last().FinishReason);
        Assert.Equal((11, 7), (chunks[^1].Usage.InputTokens, chunks[^1].Usage.OutputTokens));
        Assert.True(JsonDocument.Parse(_upstream.LastRequest.Body).RootElement.GetProperty("stream").GetBoolean());
    }

    [Fact]
    public async Task ChatAsync_WrongUpstreamKey_IsUpstreamAuthenticationWithoutEchoingTheProvider()
    {
        var target = _target with { Config = _target.Config with { ApiKey = "sk-ant-wrong" } };

        var error = await Assert.ThrowsAsync<GatewayException>(() => _provider.ChatAsync(target, Request("hi"), TestContext.Current.CancellationToken));

        Assert.Equal(ErrorKind.UpstreamAuthentication, error.Kind);
        Assert.Equal(401, error.UpstreamStatus);
        Assert.True(error.IsRetryable);
        Assert.DoesNotContain("x-api-key", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChatAsync_RateLimitedWithRetryAfter_IsUpstreamRateLimitedCarryingTheDelay()
    {
        _upstream.Replies.Enqueue(FakeReply.Error(429, """{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}""") with
        {
            Headers = new Dictionary<string, string> { ["retry-after"] = "17" },
        });

        var error = await Assert.ThrowsAsync<GatewayException>(() => _provider.ChatAsync(_target, Request("hi"), TestContext.Current.CancellationToken));

        Assert.Equal(ErrorKind.UpstreamRateLimited, error.Kind);
        Assert.Equal(17, error.RetryAfterSeconds);
        Assert.True(error.IsRetryable);
    }

    [Fact]
    public async Task ChatAsync_Overloaded529_IsRetryableUnavailable()
    {
        _upstream.Replies.Enqueue(FakeReply.Error(529, """{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"""));

        var error = await Assert.ThrowsAsync<GatewayException>(() => _provider.ChatAsync(_target, Request("hi"), TestContext.Current.CancellationToken));

        Assert.Equal(ErrorKind.Unavailable, error.Kind);
        Assert.Equal(529, error.UpstreamStatus);
        Assert.True(error.IsRetryable);
        Assert.Equal("overloaded_error", ErrorMapping.AnthropicType(error.Kind));
    }

    [Fact]
    public async Task StreamAsync_PromptTooLong_IsContextLengthExceededBeforeAnyChunk()
    {
        _upstream.Replies.Enqueue(FakeReply.Error(400, """{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 208310 tokens > 200000 maximum"}}"""));

        var error = await Assert.ThrowsAsync<GatewayException>(async () =>
        {
            await foreach (var _ in _provider.StreamAsync(_target, Request("hi"), TestContext.Current.CancellationToken))
            {
            }
        });

        Assert.Equal(ErrorKind.ContextLengthExceeded, error.Kind);
        Assert.False(error.IsRetryable);
        Assert.Contains("208310 tokens", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChatAsync_OtherBadRequest_IsInvalidRequestWithTheProvidersReason()
    {
        _upstream.Replies.Enqueue(FakeReply.Error(400, """{"type":"error","error":{"type":"invalid_request_error","message":"messages.1.content.0.tool_use.input: Field required"}}"""));

        var error = await Assert.ThrowsAsync<GatewayException>(() => _provider.ChatAsync(_target, Request("hi"), TestContext.Current.CancellationToken));

        Assert.Equal(ErrorKind.InvalidRequest, error.Kind);
        Assert.Contains("Field required", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StreamAsync_ConnectionDroppedMidStream_IsUpstreamError()
    {
        // The fake drops the connection mid-answer; how much of the answer got through before is up to TCP.
        _upstream.Replies.Enqueue(new FakeReply { Text = "This answer will be cut short.", DropAfterChunks = 2 });

        var error = await Assert.ThrowsAsync<GatewayException>(async () =>
        {
            await foreach (var _ in _provider.StreamAsync(_target, Request("hi"), TestContext.Current.CancellationToken))
            {
            }
        });

        Assert.Equal(ErrorKind.UpstreamError, error.Kind);
        Assert.True(error.IsRetryable);
    }

    private static ChatRequest Request(string text) => new()
    {
        Model = "claude-sonnet-4",
        Messages = { new Message { Role = Role.User, Content = { new ContentPart { Text = text } } } },
    };

    private sealed class SingleClientFactory(HttpClient client) : IHttpClientFactory
    {
        public HttpClient CreateClient(string name) => client;
    }
}
