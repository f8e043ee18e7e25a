using Gateway.Contracts.Inference.V1;
using Gateway.Testing.Fakes;
using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;

namespace Gateway.Functional.Tests.Grpc;

// gateway.inference.v1.Inference over real h2c on the gateway's gRPC port.
public sealed class InferenceGrpcTests : IAsyncLifetime
{
    private FakeOpenAi _upstream = null!;
    private TestGateway _gateway = null!;
    private GrpcChannel _channel = null!;

    public async ValueTask InitializeAsync()
    {
        _upstream = await FakeOpenAi.StartNewAsync();
        _gateway = await TestGateway.StartAsync($$"""
            providers:
              openai: { kind: openai, base_url: "{{_upstream.Url}}v1", api_key: sk-upstream }
            models:
              gpt-4o:
                targets: [{ provider: openai, model: gpt-4o }]
              text-embedding-3-small:
                targets: [{ provider: openai, model: text-embedding-3-small }]
            keys:
            {{TestGateway.Key()}}
            """);
        _channel = GrpcChannel.ForAddress(_gateway.GrpcAddress);
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private Inference.InferenceClient Client => new(_channel);

    private static Metadata Auth(string key = TestGateway.DefaultKey) => new() { { "authorization", "Bearer " + key } };

    private static ChatRequest Hello(string text = "Hello gRPC") => new()
    {
        Model = "gpt-4o",
        Messages = { new Message { Role = Role.User, Content = { new ContentPart { Text = text } } } },
    };

    [Fact]
    public async Task Chat_ReturnsAnswerAndServedBy()
    {
        var response = await Client.ChatAsync(Hello(), Auth(), cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("Echo: Hello gRPC", response.Choices[0].Message.Content[0].Text);
        Assert.Equal(FinishReason.Stop, response.Choices[0].FinishReason);
        Assert.Equal("openai", response.Served.Provider);
        Assert.Equal("gpt-4o", response.Served.Model);
        Assert.Equal(1, response.Served.Attempts);
        Assert.False(string.IsNullOrEmpty(response.Served.RequestId));
        Assert.Equal(11, response.Usage.InputTokens);
    }

    [Fact]
    public async Task ChatStream_StreamsChunksInOrder()
    {
        _upstream.Replies.Enqueue(FakeReply.Say("one two three"));
        var request = Hello();
        request.IncludeUsage = true;
        using var call = Client.ChatStream(request, Auth(), cancellationToken: TestContext.Current.CancellationToken);

        var text = new System.Text.StringBuilder();
        var chunks = new List<ChatChunk>();
        await foreach (var chunk in call.ResponseStream.ReadAllAsync(TestContext.Current.CancellationToken))
        {
            chunks.Add(chunk);
            foreach (var choice in chunk.Choices)
            {
                text.Append(choice.Delta.Content);
            }
        }

        Assert.Equal("one two three", text.ToString());
        Assert.Equal("openai", chunks[0].Served.Provider);
        Assert.Contains(chunks, c => c.Choices.Any(x => x.FinishReason == FinishReason.Stop));
        Assert.Equal(7, chunks.Last().Usage.OutputTokens);
    }

    [Fact]
    public async Task Embed_ReturnsVectors()
    {
        var response = await Client.EmbedAsync(new EmbedRequest { Model = "text-embedding-3-small", Input = { "a", "bb" }, Dimensions = 3 }, Auth(), cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(2, response.Data.Count);
        Assert.Equal(3, response.Data[0].Vector.Count);
    }

    [Fact]
    public async Task ListModels_ReturnsConfiguredModels()
    {
        var response = await Client.ListModelsAsync(new ListModelsRequest(), Auth(), cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(["gpt-4o", "text-embedding-3-small"], response.Models.Select(m => m.Id).Order());
    }

    [Fact]
    public async Task Chat_WrongKey_IsUnauthenticatedWithErrorInfo()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.ChatAsync(Hello(), Auth("wrong-key-0000000000"), cancellationToken: TestContext.Current.CancellationToken).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        var info = error.GetRpcStatus()!.GetDetail<ErrorInfo>();
        Assert.Equal("invalid_api_key", info.Reason);
        Assert.Equal(0, _upstream.CallCount);
    }

    [Fact]
    public async Task Chat_UnknownModel_IsNotFoundWithFieldViolation()
    {
        var request = Hello();
        request.Model = "no-such-model";

        var error = await Assert.ThrowsAsync<RpcException>(() => Client.ChatAsync(request, Auth(), cancellationToken: TestContext.Current.CancellationToken).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Equal("model", error.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations[0].Field);
    }

    [Fact]
    public async Task Chat_UpstreamRateLimited_IsResourceExhaustedWithRetryInfo()
    {
        _upstream.Replies.Enqueue(new FakeReply
        {
            Status = 429,
            ErrorBody = """{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}""",
            Headers = new Dictionary<string, string> { ["retry-after"] = "7" },
        });

        var error = await Assert.ThrowsAsync<RpcException>(() => Client.ChatAsync(Hello(), Auth(), cancellationToken: TestContext.Current.CancellationToken).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal(7, error.GetRpcStatus()!.GetDetail<RetryInfo>().RetryDelay.Seconds);
    }
}
