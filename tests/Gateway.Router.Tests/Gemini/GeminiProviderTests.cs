using System.Text.Json;
using Gateway.Common.Errors;
using Gateway.Contracts.Inference.V1;
using Gateway.Router.Providers;
using Gateway.Router.Providers.Gemini;
using Gateway.Testing.Fakes;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Router.Tests.Gemini;

// The adapter over real HTTP against the Gemini-wire fake: addresses, key placement, streams, errors.
public sealed class GeminiProviderTests : IAsyncLifetime
{
    private const string Key = "AIzaSy-upstream-secret";

    private readonly SingleClientFactory _clients = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1_760_000_000));
    private FakeGemini _upstream = null!;
    private GeminiProvider _provider = null!;

    public async ValueTask InitializeAsync()
    {
        _upstream = await FakeGemini.StartNewAsync(apiKey: Key);
        _provider = new GeminiProvider(new ProviderHttp(_clients), _time);
    }

    public async ValueTask DisposeAsync()
    {
        await _upstream.DisposeAsync();
        _clients.Dispose();
    }

    private ProviderTarget Target(string? key = Key, string model = "gemini-2.5-flash")
        => GeminiTestData.Target(_upstream.Url.ToString(), key, model);

    private static ChatRequest Ask(string text) => new() { Model = "gemini-flash", Messages = { new Message { Role = Role.User, Content = { new ContentPart { Text = text } } } } };

    [Fact]
    public async Task ChatAsync_Text_PostsGenerateContentWithKeyInHeaderOnly()
    {
        var response = await _provider.ChatAsync(Target(), Ask("Hello"), TestContext.Current.CancellationToken);

        Assert.Equal("Echo: Hello", response.Choices[0].Message.Content[0].Text);
        Assert.Equal(FinishReason.Stop, response.Choices[0].FinishReason);
        Assert.Equal("gemini-2.5-flash", response.Model);
        Assert.Equal("fake-gemini-resp-1", response.Id);
        Assert.Equal(11, response.Usage.InputTokens);
        Assert.Equal(7, response.Usage.OutputTokens);
        var sent = _upstream.LastRequest;
        Assert.Equal("/v1beta/models/gemini-2.5-flash:generateContent", sent.PathAndQuery);
        Assert.Equal(Key, sent.Headers["x-goog-api-key"]);
        Assert.DoesNotContain(Key, sent.PathAndQuery, StringComparison.Ordinal);
        Assert.False(sent.Headers.ContainsKey("authorization"));
        Assert.StartsWith("application/json", sent.Headers["content-type"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChatAsync_ModelAsResourceName_IsNotDoubled()
    {
        await _provider.ChatAsync(Target(model: "models/gemini-2.5-pro"), Ask("Hi"), TestContext.Current.CancellationToken);

        Assert.Equal("/v1beta/models/gemini-2.5-pro:generateContent", _upstream.LastRequest.PathAndQuery);
    }

    [Fact]
    public async Task ChatAsync_WrongKey_IsUpstreamAuthentication()
    {
        var error = await Assert.ThrowsAsync<GatewayException>(() => _provider.ChatAsync(Target(key: "AIza-wrong"), Ask("Hi"), TestContext.Current.CancellationToken));

        Assert.Equal(ErrorKind.UpstreamAuthentication, error.Kind);
        Assert.Equal(401, error.UpstreamStatus);
    }

    [Fact]
    public async Task ChatAsync_RateLimitedWithRetryAfterHeader_CarriesRetryAfter()
    {
        _upstream.Replies.Enqueue(FakeReply.Error(429, FakeGemini.ErrorBody(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")) with
        {
            Headers = new Dictionary<string, string> { ["Retry-After"] = "12" },
        });

        var error = await Assert.ThrowsAsync<GatewayException>(() => _provider.ChatAsync(Target(), Ask("Hi"), TestContext.Current.CancellationToken));

        Assert.Equal(ErrorKind.UpstreamRateLimited, error.Kind);
        Assert.Equal(12, error.RetryAfterSeconds);
    }

    [Fact]
    public async Task ChatAsync_ToolCall_ReturnsGeneratedIdAndArguments()
    {
        _upstream.Replies.Enqueue(FakeReply.Call("", "get_weather", """{"city":"Zürich"}"""));

        var response = await _provider.ChatAsync(Target(), Ask("Weather?"), TestContext.Current.CancellationToken);

        var call = Assert.Single(response.Choices[0].Message.ToolCalls);
        Assert.Equal("call_0", call.Id);
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("""{"city":"Zürich"}""", call.Arguments);
        Assert.Equal(FinishReason.ToolCalls, response.Choices[0].FinishReason);
    }

    [Fact]
    public async Task StreamAsync_Text_UsesSseEndpointAndEndsWithFinishThenUsage()
    {
        _upstream.Replies.Enqueue(FakeReply.Say("Grüße aus 世界 😀 — streamed!"));

        var chunks = new List<ChatChunk>();
        await foreach (var chunk in _provider.StreamAsync(Target(), Ask("stream please"), TestContext.Current.CancellationToken))
        {
            chunks.Add(chunk);
        }

        var sent = _upstream.LastRequest;
        Assert.Equal("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", sent.PathAndQuery);
        Assert.Equal(Key, sent.Headers["x-goog-api-key"]);
        Assert.Equal(Role.Assistant, chunks[0].Choices[0].Delta.Role);
        Assert.Equal("Grüße aus 世界 😀 — streamed!", string.Concat(chunks.SelectMany(c => c.Choices).Select(c => c.Delta.Content)));
        Assert.Equal(FinishReason.Stop, chunks[^2].Choices[0].FinishReason);
        Assert.Equal(11, chunks[^1].Usage.InputTokens);
        Assert.Equal(7, chunks[^1].Usage.OutputTokens);
        Assert.All(chunks, c => Assert.Equal(1_760_000_000, c.Created));
    }

    [Fact]
    public async Task StreamAsync_ConnectionDropped_ThrowsUpstreamError()
    {
        _upstream.Replies.Enqueue(FakeReply.Say("This answer will be cut off early") with { DropAfterChunks = 2 });

        var error = await Assert.ThrowsAsync<GatewayException>(async () =>
        {
            await foreach (var _ in _provider.StreamAsync(Target(), Ask("Hi"), TestContext.Current.CancellationToken))
            {
            }
        });

        Assert.Equal(ErrorKind.UpstreamError, error.Kind);
    }

    [Fact]
    public async Task StreamAsync_ErrorBeforeFirstByte_IsTypedError()
    {
        _upstream.Replies.Enqueue(FakeReply.Error(500, FakeGemini.ErrorBody(500, "INTERNAL", "An internal error has occurred.")));

        var error = await Assert.ThrowsAsync<GatewayException>(async () =>
        {
            await foreach (var _ in _provider.StreamAsync(Target(), Ask("Hi"), TestContext.Current.CancellationToken))
            {
            }
        });

        Assert.Equal(ErrorKind.UpstreamError, error.Kind);
        Assert.Equal(500, error.UpstreamStatus);
    }

    [Fact]
    public async Task EmbedAsync_Batch_PostsBatchEmbedContentsAndKeepsOrder()
    {
        var request = new EmbedRequest { Model = "gemini-embed", Input = { "one", "three" }, Dimensions = 4 };

        var response = await _provider.EmbedAsync(Target(model: "gemini-embedding-001"), request, TestContext.Current.CancellationToken);

        Assert.Equal(2, response.Data.Count);
        Assert.All(response.Data, e => Assert.Equal(4, e.Vector.Count));
        Assert.NotEqual(response.Data[0].Vector, response.Data[1].Vector);
        var sent = _upstream.LastRequest;
        Assert.Equal("/v1beta/models/gemini-embedding-001:batchEmbedContents", sent.PathAndQuery);
        Assert.Equal(Key, sent.Headers["x-goog-api-key"]);
        using var body = JsonDocument.Parse(sent.Body);
        Assert.Equal(4, body.RootElement.GetProperty("requests")[1].GetProperty("outputDimensionality").GetInt32());
    }

    [Theory]
    [InlineData("https://generativelanguage.googleapis.com", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent")]
    [InlineData("https://generativelanguage.googleapis.com/", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent")]
    [InlineData("https://proxy.internal/google/v1beta", "https://proxy.internal/google/v1beta/models/gemini-2.5-flash:generateContent")]
    public void Endpoint_BaseUrl_AddsApiVersionOnce(string baseUrl, string expected)
        => Assert.Equal(expected, GeminiProvider.Endpoint(GeminiTestData.Target(baseUrl), "generateContent").ToString());
}
