using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Contracts.Inference.V1;
using Gateway.Router.Providers;
using Gateway.Router.Providers.Vertex;
using Gateway.Router.Tests.Gemini;
using Gateway.Testing.Fakes;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Router.Tests.Vertex;

// The Vertex adapter over real HTTP: service-account token exchange (verified by the fake token endpoint),
// Gemini through generateContent, Claude through rawPredict, both streaming.
public sealed class VertexProviderTests : IAsyncLifetime
{
    private readonly SingleClientFactory _clients = new();
    private FakeVertex _upstream = null!;
    private FakeTimeProvider _time = null!;
    private VertexProvider _provider = null!;

    public async ValueTask InitializeAsync()
    {
        _upstream = await FakeVertex.StartNewAsync();
        // The fake token endpoint checks the assertion's iat/exp against the same clock, as Google against its own.
        _time = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        _upstream.Clock = _time;
        _provider = new VertexProvider(new ProviderHttp(_clients), new GoogleTokenSource(_clients, _time), _time);
    }

    public async ValueTask DisposeAsync()
    {
        await _upstream.DisposeAsync();
        _clients.Dispose();
    }

    private ProviderTarget Target(string model, string? serviceAccountJson = null) => new("vertex", new ProviderConfig
    {
        Kind = "vertex",
        BaseUrl = _upstream.Url.ToString(),
        Region = _upstream.Location,
        Project = _upstream.Project,
        Google = new GoogleCredentialsConfig { ServiceAccountJson = serviceAccountJson ?? _upstream.ServiceAccountJson() },
        TimeoutSeconds = 30,
    }, model, "public-model");

    private static ChatRequest Ask(string text) => new() { Model = "public-model", Messages = { new Message { Role = Role.User, Content = { new ContentPart { Text = text } } } } };

    private async Task<List<ChatChunk>> StreamAsync(ProviderTarget target, ChatRequest request)
    {
        var chunks = new List<ChatChunk>();
        await foreach (var chunk in _provider.StreamAsync(target, request, TestContext.Current.CancellationToken))
        {
            chunks.Add(chunk);
        }
        return chunks;
    }

    [Fact]
    public async Task ChatAsync_Gemini_ExchangesTheAssertionAndCallsGenerateContentWithTheToken()
    {
        var response = await _provider.ChatAsync(Target("gemini-2.5-flash"), Ask("Hello"), TestContext.Current.CancellationToken);

        Assert.Equal("Echo: Hello", response.Choices[0].Message.Content[0].Text);
        Assert.Equal((11, 7), (response.Usage.InputTokens, response.Usage.OutputTokens));
        var sent = _upstream.LastRequest;
        Assert.Equal("/v1/projects/gateway-test-123/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent", sent.PathAndQuery);
        Assert.StartsWith("Bearer ya29.fake-", sent.Headers["authorization"], StringComparison.Ordinal);
        Assert.False(sent.Headers.ContainsKey("x-goog-api-key"));
    }

    [Fact]
    public async Task ChatAsync_TwoCalls_ReuseOneCachedTokenUntilShortlyBeforeExpiry()
    {
        await _provider.ChatAsync(Target("gemini-2.5-flash"), Ask("one"), TestContext.Current.CancellationToken);
        await _provider.ChatAsync(Target("gemini-2.5-flash"), Ask("two"), TestContext.Current.CancellationToken);
        Assert.Equal(1, _upstream.TokensIssued);

        // The token lives 3599 s; within five minutes of that a new one is fetched.
        _time.Advance(TimeSpan.FromMinutes(55));
        await _provider.ChatAsync(Target("gemini-2.5-flash"), Ask("three"), TestContext.Current.CancellationToken);
        Assert.Equal(2, _upstream.TokensIssued);
    }

    [Fact]
    public async Task ChatAsync_KeySignedByAnotherPrivateKey_IsUpstreamAuthenticationFromTheTokenEndpoint()
    {
        using var impostor = RSA.Create(2048);

        var error = await Assert.ThrowsAsync<GatewayException>(() => _provider.ChatAsync(Target("gemini-2.5-flash", _upstream.ServiceAccountJson(impostor)), Ask("Hi"), TestContext.Current.CancellationToken));

        Assert.Equal(ErrorKind.UpstreamAuthentication, error.Kind);
        Assert.Contains("Invalid JWT Signature", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, _upstream.TokensIssued);
        Assert.DoesNotContain("PRIVATE KEY", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StreamAsync_Gemini_UsesStreamGenerateContentWithSse()
    {
        var chunks = await StreamAsync(Target("google/gemini-2.5-pro"), Ask("Stream me"));

        Assert.Equal("/v1/projects/gateway-test-123/locations/us-central1/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse", _upstream.LastRequest.PathAndQuery);
        Assert.Equal("Echo: Stream me", string.Concat(chunks.Where(c => c.Choices.Count > 0).Select(c => c.Choices[0].Delta.Content)));
        Assert.Equal(7, chunks[^1].Usage.OutputTokens);
    }

    [Fact]
    public async Task ChatAsync_Claude_UsesRawPredictWithVertexAnthropicVersionAndNoModel()
    {
        _upstream.Anthropic.Replies.Enqueue(FakeReply.Call("toolu_01", "get_weather", """{"city":"Rome"}"""));
        var request = Ask("Weather in Rome?");
        request.Tools.Add(new Tool { Name = "get_weather", ParametersJson = """{"type":"object","properties":{"city":{"type":"string"}}}""" });

        var response = await _provider.ChatAsync(Target("claude-sonnet-4@20250514"), request, TestContext.Current.CancellationToken);

        var call = Assert.Single(response.Choices[0].Message.ToolCalls);
        Assert.Equal(("toolu_01", "get_weather"), (call.Id, call.Name));
        Assert.Equal(FinishReason.ToolCalls, response.Choices[0].FinishReason);
        var sent = _upstream.LastRequest;
        Assert.Equal("/v1/projects/gateway-test-123/locations/us-central1/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict", sent.PathAndQuery);
        var body = JsonNode.Parse(sent.Body)!.AsObject();
        Assert.Equal("vertex-2023-10-16", body["anthropic_version"]!.GetValue<string>());
        Assert.False(body.ContainsKey("model"));
        Assert.False(sent.Headers.ContainsKey("x-api-key"));
    }

    [Fact]
    public async Task StreamAsync_Claude_UsesStreamRawPredict()
    {
        var chunks = await StreamAsync(Target("anthropic/claude-3-5-haiku@20241022"), Ask("Stream me"));

        Assert.EndsWith("/publishers/anthropic/models/claude-3-5-haiku@20241022:streamRawPredict", _upstream.LastRequest.PathAndQuery, StringComparison.Ordinal);
        Assert.Equal("Echo: Stream me", string.Concat(chunks.Where(c => c.Choices.Count > 0).Select(c => c.Choices[0].Delta.Content)));
        Assert.Equal(FinishReason.Stop, chunks.Single(c => c.Choices.Count > 0 && c.Choices[0].FinishReason != FinishReason.Unspecified).Choices[0].FinishReason);
    }

    [Fact]
    public async Task ChatAsync_QuotaExhausted_IsRateLimited()
    {
        _upstream.Gemini.Replies.Enqueue(FakeReply.Error(429, FakeGemini.ErrorBody(429, "RESOURCE_EXHAUSTED", "Quota exceeded for aiplatform.googleapis.com/generate_content_requests_per_minute_per_project_per_base_model.")));

        var error = await Assert.ThrowsAsync<GatewayException>(() => _provider.ChatAsync(Target("gemini-2.5-flash"), Ask("Hi"), TestContext.Current.CancellationToken));

        Assert.Equal(ErrorKind.UpstreamRateLimited, error.Kind);
    }

    [Fact]
    public void Endpoint_DerivedFromRegion_UsesTheRegionalOrGlobalHost()
    {
        var config = new ProviderConfig { Kind = "vertex", Region = "europe-west4", Project = "acme-prod" };

        Assert.Equal("https://europe-west4-aiplatform.googleapis.com/v1/projects/acme-prod/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent",
            VertexProvider.Endpoint(new ProviderTarget("v", config, "gemini-2.5-flash", "m"), "google", "gemini-2.5-flash", "generateContent").ToString());
        Assert.Equal("https://aiplatform.googleapis.com/v1/projects/acme-prod/locations/global/publishers/anthropic/models/claude-sonnet-4:rawPredict",
            VertexProvider.Endpoint(new ProviderTarget("v", config with { Region = "global" }, "claude-sonnet-4", "m"), "anthropic", "claude-sonnet-4", "rawPredict").ToString());
    }
}
