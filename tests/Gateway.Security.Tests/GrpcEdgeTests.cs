using Gateway.Common.Clients;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;
using Gateway.Testing.Fakes;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Gateway.Security.Tests;

// The public gRPC port: the principal that mesh peers pass each other in metadata (x-gateway-principal-bin)
// is not a credential there. A client that forges it gets nothing it would not get with its own key, and
// model names that look like URLs resolve to nothing, as on the REST surfaces.
public sealed class GrpcEdgeTests : IAsyncLifetime
{
    private FakeOpenAi _upstream = null!;
    private TestGateway _gateway = null!;
    private GrpcChannel _channel = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _upstream = await FakeOpenAi.StartNewAsync();
        _gateway = await TestGateway.StartAsync($$"""
            providers:
              openai: { kind: openai, base_url: "{{_upstream.Url}}v1", api_key: sk-upstream-0123456789 }
            models:
              gpt-4o: { targets: [{ provider: openai, model: gpt-4o }] }
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

    private static ChatRequest Hello(string model = "gpt-4o", string requestId = "") => new()
    {
        Model = model,
        RequestId = requestId,
        Messages = { new Message { Role = Role.User, Content = { new ContentPart { Text = "hello" } } } },
    };

    private static Metadata Forged(string? key)
    {
        var forged = new Principal { KeyName = "root", Team = "finance", User = "ceo" };
        forged.Roles.Add("admin");
        var metadata = new Metadata { { CallContext.PrincipalHeader, forged.ToByteArray() } };
        if (key is not null)
        {
            metadata.Add("authorization", "Bearer " + key);
        }
        return metadata;
    }

    [Fact]
    public async Task ForgedPrincipal_WithoutAKey_IsUnauthenticated_AndNothingIsCalled()
    {
        var client = new Inference.InferenceClient(_channel);

        var error = await Assert.ThrowsAsync<RpcException>(() => client.ChatAsync(Hello(), Forged(null), cancellationToken: Ct).ResponseAsync);
        var stream = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using var call = client.ChatStream(Hello(), Forged("wrong-key-0123456789abcdef"), cancellationToken: Ct);
            await call.ResponseStream.MoveNext(Ct);
        });

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, stream.StatusCode);
        Assert.Equal(0, _upstream.CallCount);
    }

    [Fact]
    public async Task ForgedPrincipal_WithAValidKey_IsIgnored_TheTraceNamesTheKeysOwnPrincipal()
    {
        var client = new Inference.InferenceClient(_channel);
        const string requestId = "forged-principal-1";

        await client.ChatAsync(Hello(requestId: requestId), Forged(TestGateway.DefaultKey), cancellationToken: Ct);

        var trace = await _gateway.TraceAsync(requestId);
        Assert.Equal("test", trace.Principal.KeyName);
        Assert.Equal("qa", trace.Principal.Team);
        Assert.DoesNotContain("admin", trace.Principal.Roles);
    }

    [Theory]
    [InlineData("http://127.0.0.1:1/v1")]
    [InlineData("../../admin")]
    [InlineData("openai/gpt-4o")]
    public async Task ModelNamesThatLookLikeUrls_AreNotFound(string model)
    {
        var client = new Inference.InferenceClient(_channel);
        var metadata = new Metadata { { "authorization", "Bearer " + TestGateway.DefaultKey } };

        var error = await Assert.ThrowsAsync<RpcException>(() => client.ChatAsync(Hello(model), metadata, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Equal(0, _upstream.CallCount);
    }
}
