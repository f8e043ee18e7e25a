using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Contracts.Inference.V1;
using Gateway.Router.Providers;
using Gateway.Router.Providers.Bedrock;
using Gateway.Router.Tests.Gemini;
using Gateway.Testing.Fakes;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Router.Tests.Bedrock;

// The adapter over real HTTP against the fake Bedrock, which verifies every SigV4 signature it receives.
public sealed class BedrockProviderTests : IAsyncLifetime
{
    private const string KeyId = "AKIAGATEWAYTEST00001";
    private const string Secret = "gateway/test/secret/0123456789abcdefghijk";
    private const string Model = "anthropic.claude-3-5-haiku-20241022-v1:0";

    private readonly SingleClientFactory _clients = new();
    private readonly Dictionary<string, string> _environment = [];
    private FakeBedrock _upstream = null!;
    private FakeImds _imds = null!;
    private FakeTimeProvider _time = null!;
    private BedrockProvider _provider = null!;

    public async ValueTask InitializeAsync()
    {
        _upstream = await FakeBedrock.StartNewAsync(KeyId, Secret);
        _imds = new FakeImds();
        await _imds.StartAsync();
        // The fake checks X-Amz-Date against the same clock, as AWS checks it against its own.
        _time = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        _upstream.Clock = _time;
        _provider = new BedrockProvider(new ProviderHttp(_clients), new AwsCredentialSource(_clients, _time, name => _environment.GetValueOrDefault(name)), _time);
    }

    public async ValueTask DisposeAsync()
    {
        await _upstream.DisposeAsync();
        await _imds.DisposeAsync();
        _clients.Dispose();
    }

    private ProviderTarget Target(AwsCredentialsConfig? aws = null, string? apiKey = null, string region = "us-east-1")
        => new("bedrock", new ProviderConfig
        {
            Kind = "bedrock",
            BaseUrl = _upstream.Url.ToString(),
            Region = region,
            ApiKey = apiKey,
            Aws = aws ?? new AwsCredentialsConfig { AccessKeyId = KeyId, SecretAccessKey = Secret, ImdsEndpoint = _imds.Url.ToString() },
            TimeoutSeconds = 30,
        }, Model, "claude-haiku");

    private static ChatRequest Ask(string text) => new() { Model = "claude-haiku", Messages = { new Message { Role = Role.User, Content = { new ContentPart { Text = text } } } } };

    [Fact]
    public async Task ChatAsync_ConfiguredKeys_SignsConverseRequestTheFakeVerifies()
    {
        var response = await _provider.ChatAsync(Target(), Ask("Hello"), TestContext.Current.CancellationToken);

        Assert.Equal("Echo: Hello", response.Choices[0].Message.Content[0].Text);
        Assert.Equal(FinishReason.Stop, response.Choices[0].FinishReason);
        Assert.Equal((11, 7), (response.Usage.InputTokens, response.Usage.OutputTokens));
        Assert.Equal(Model, Assert.Single(_upstream.Models));
        var sent = _upstream.LastRequest;
        Assert.Equal("/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse", Assert.Single(_upstream.RawTargets));
        Assert.StartsWith($"AWS4-HMAC-SHA256 Credential={KeyId}/", sent.Headers["authorization"], StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, string.Join(" ", sent.Headers.Values), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChatAsync_WrongSecret_IsUpstreamAuthenticationWithoutTheSecret()
    {
        var error = await Assert.ThrowsAsync<GatewayException>(() => _provider.ChatAsync(
            Target(new AwsCredentialsConfig { AccessKeyId = KeyId, SecretAccessKey = "wrong/secret/0123456789abcdefghijklmn" }), Ask("Hi"), TestContext.Current.CancellationToken));

        Assert.Equal(ErrorKind.UpstreamAuthentication, error.Kind);
        Assert.Equal(403, error.UpstreamStatus);
        Assert.DoesNotContain("wrong/secret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChatAsync_SignedForAnotherRegion_IsRefused()
    {
        var error = await Assert.ThrowsAsync<GatewayException>(() => _provider.ChatAsync(Target(region: "eu-west-1"), Ask("Hi"), TestContext.Current.CancellationToken));

        Assert.Equal(ErrorKind.UpstreamAuthentication, error.Kind);
    }

    [Fact]
    public async Task ChatAsync_SessionTokenInConfig_IsSignedAndSent()
    {
        _upstream.Credentials["ASIATEMPORARY0000001"] = ("temporary/secret/0123456789abcdefghijk", "FwoGZXIvYXdzESessionToken==");

        var response = await _provider.ChatAsync(Target(new AwsCredentialsConfig
        {
            AccessKeyId = "ASIATEMPORARY0000001",
            SecretAccessKey = "temporary/secret/0123456789abcdefghijk",
            SessionToken = "FwoGZXIvYXdzESessionToken==",
        }), Ask("Hi"), TestContext.Current.CancellationToken);

        Assert.Equal("Echo: Hi", response.Choices[0].Message.Content[0].Text);
        Assert.Contains("x-amz-security-token", _upstream.LastRequest.Headers["authorization"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChatAsync_NoConfiguredKeys_ReadsTheEnvironment()
    {
        _environment["AWS_ACCESS_KEY_ID"] = KeyId;
        _environment["AWS_SECRET_ACCESS_KEY"] = Secret;

        var response = await _provider.ChatAsync(Target(new AwsCredentialsConfig { ImdsEndpoint = _imds.Url.ToString() }), Ask("Hi"), TestContext.Current.CancellationToken);

        Assert.Equal("Echo: Hi", response.Choices[0].Message.Content[0].Text);
        Assert.Equal(0, _imds.CredentialFetches);
    }

    [Fact]
    public async Task ChatAsync_InstanceRole_FetchesOnceAndRefreshesBeforeExpiry()
    {
        _upstream.Credentials[_imds.AccessKeyId] = (_imds.SecretAccessKey, _imds.SessionToken);
        _imds.Expiration = _time.GetUtcNow().AddHours(1);
        var target = Target(new AwsCredentialsConfig { ImdsEndpoint = _imds.Url.ToString() });

        await _provider.ChatAsync(target, Ask("one"), TestContext.Current.CancellationToken);
        await _provider.ChatAsync(target, Ask("two"), TestContext.Current.CancellationToken);
        Assert.Equal(1, _imds.CredentialFetches);

        // Within five minutes of expiry the role's keys are fetched again.
        _time.Advance(TimeSpan.FromMinutes(56));
        await _provider.ChatAsync(target, Ask("three"), TestContext.Current.CancellationToken);
        Assert.Equal(2, _imds.CredentialFetches);
        Assert.Contains($"Credential={_imds.AccessKeyId}/", _upstream.LastRequest.Headers["authorization"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChatAsync_NoCredentialsAnywhere_IsUpstreamAuthentication()
    {
        await _imds.DisposeAsync();

        var error = await Assert.ThrowsAsync<GatewayException>(() => _provider.ChatAsync(Target(new AwsCredentialsConfig { ImdsEndpoint = _imds.Url.ToString() }), Ask("Hi"), TestContext.Current.CancellationToken));

        Assert.Equal(ErrorKind.UpstreamAuthentication, error.Kind);
        Assert.Contains("no usable AWS credentials", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChatAsync_BedrockApiKey_IsSentAsBearerInsteadOfSigV4()
    {
        _upstream.ApiKey = "ABSKbedrock-api-key-0123456789";

        await _provider.ChatAsync(Target(new AwsCredentialsConfig(), apiKey: "ABSKbedrock-api-key-0123456789"), Ask("Hi"), TestContext.Current.CancellationToken);

        Assert.Equal("Bearer ABSKbedrock-api-key-0123456789", _upstream.LastRequest.Headers["authorization"]);
        Assert.False(_upstream.LastRequest.Headers.ContainsKey("x-amz-date"));
    }

    [Fact]
    public async Task ChatAsync_Throttled_IsRateLimited()
    {
        _upstream.Replies.Enqueue(FakeBedrock.Throttled());

        var error = await Assert.ThrowsAsync<GatewayException>(() => _provider.ChatAsync(Target(), Ask("Hi"), TestContext.Current.CancellationToken));

        Assert.Equal(ErrorKind.UpstreamRateLimited, error.Kind);
        Assert.True(error.IsRetryable);
    }

    [Fact]
    public async Task StreamAsync_ToolCall_StreamsEventStreamFramesAsNeutralChunks()
    {
        _upstream.Replies.Enqueue(FakeReply.Call("tooluse_q1", "get_weather", """{"city":"Lisbon","units":"c"}""") with { Text = "Checking the weather." });
        var chunks = new List<ChatChunk>();

        await foreach (var chunk in _provider.StreamAsync(Target(), Ask("Weather?"), TestContext.Current.CancellationToken))
        {
            chunks.Add(chunk);
        }

        Assert.Equal("/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream", Assert.Single(_upstream.RawTargets));
        Assert.Equal("Checking the weather.", string.Concat(chunks.Where(c => c.Choices.Count > 0).Select(c => c.Choices[0].Delta.Content)));
        var calls = chunks.Where(c => c.Choices.Count > 0).SelectMany(c => c.Choices[0].Delta.ToolCalls).ToList();
        Assert.Equal("tooluse_q1", calls[0].Id);
        Assert.Equal("""{"city":"Lisbon","units":"c"}""", string.Concat(calls.Select(c => c.Arguments)));
        Assert.Equal(FinishReason.ToolCalls, chunks[^2].Choices[0].FinishReason);
        Assert.Equal(7, chunks[^1].Usage.OutputTokens);
    }

    [Fact]
    public async Task StreamAsync_ThrottledMidStream_IsRateLimited()
    {
        _upstream.Replies.Enqueue(FakeReply.Say("Partial answer") with { StreamError = "throttlingException" });

        var error = await Assert.ThrowsAsync<GatewayException>(async () =>
        {
            await foreach (var _ in _provider.StreamAsync(Target(), Ask("Hi"), TestContext.Current.CancellationToken))
            {
            }
        });

        Assert.Equal(ErrorKind.UpstreamRateLimited, error.Kind);
    }
}
