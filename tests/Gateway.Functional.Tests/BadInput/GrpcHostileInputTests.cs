using Gateway.Contracts.Inference.V1;
using Google.Protobuf;
using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;

namespace Gateway.Functional.Tests.BadInput;

// The hostile-input battery on gateway.inference.v1.Inference: raw bytes that are not a ChatRequest, and
// well-formed messages whose values no provider should see. Each is INVALID_ARGUMENT or RESOURCE_EXHAUSTED
// with a google.rpc.Status, the upstream sees no call, nothing else changes, and the gateway keeps serving.
[Collection(HostileCollection.Name)]
public sealed class GrpcHostileInputTests(HostileGateway fixture) : IDisposable
{
    private readonly GrpcChannel _channel = GrpcChannel.ForAddress(fixture.Gateway.GrpcAddress, new GrpcChannelOptions { MaxSendMessageSize = null });

    private static readonly Marshaller<byte[]> Raw = Marshallers.Create(bytes => bytes, bytes => bytes);
    private static readonly Method<byte[], byte[]> ChatMethod = new(MethodType.Unary, "gateway.inference.v1.Inference", "Chat", Raw, Raw);
    private static readonly Method<byte[], byte[]> StreamMethod = new(MethodType.ServerStreaming, "gateway.inference.v1.Inference", "ChatStream", Raw, Raw);
    private static readonly Method<byte[], byte[]> EmbedMethod = new(MethodType.Unary, "gateway.inference.v1.Inference", "Embed", Raw, Raw);

    private static ChatRequest Valid() => new()
    {
        Model = "gpt-4o",
        Messages = { new Message { Role = Role.User, Content = { new ContentPart { Text = "hi" } } } },
    };

    private static byte[] With(Action<ChatRequest> change)
    {
        var request = Valid();
        change(request);
        return request.ToByteArray();
    }

    // Raw request bytes for Chat; StatusCode the call must end with. RESOURCE_EXHAUSTED for an oversized
    // message comes from gRPC's own size limit (max_request_body_bytes), without google.rpc details.
    private static readonly Dictionary<string, (Func<byte[]> Bytes, StatusCode Status)> Cases = new()
    {
        ["wrong wire type for messages"] = (() => [0x15, 0x01, 0x02, 0x03, 0x04], StatusCode.InvalidArgument),
        ["10 MB message"] = (() => With(r => r.Messages[0].Content[0].Text = new string('x', HostileCases.TenMegabytes)), StatusCode.ResourceExhausted),
        ["no messages"] = (() => With(r => r.Messages.Clear()), StatusCode.InvalidArgument),
        ["100,000 messages"] = (() => With(r => r.Messages.AddRange(Enumerable.Range(0, 100_000).Select(_ => r.Messages[0].Clone()))), StatusCode.InvalidArgument),
        ["5,000 tools"] = (() => With(r => r.Tools.AddRange(Enumerable.Range(0, 5_000).Select(i => new Tool { Name = $"t{i}", ParametersJson = "{}" }))), StatusCode.InvalidArgument),
        ["tool with a bad name"] = (() => With(r => r.Tools.Add(new Tool { Name = "bad name!" })), StatusCode.InvalidArgument),
        ["tool parameters not JSON"] = (() => With(r => r.Tools.Add(new Tool { Name = "lookup", ParametersJson = "{" })), StatusCode.InvalidArgument),
        ["unspecified role"] = (() => With(r => r.Messages[0].Role = Role.Unspecified), StatusCode.InvalidArgument),
        ["unknown role number"] = (() => With(r => r.Messages[0].Role = (Role)99), StatusCode.InvalidArgument),
        ["1 MB model name"] = (() => With(r => r.Model = new string('m', 1024 * 1024)), StatusCode.InvalidArgument),
        ["model name with NUL"] = (() => With(r => r.Model = "gpt\0-4o"), StatusCode.InvalidArgument),
        ["NaN temperature"] = (() => With(r => r.Temperature = double.NaN), StatusCode.InvalidArgument),
        ["infinite top_p"] = (() => With(r => r.TopP = double.PositiveInfinity), StatusCode.InvalidArgument),
        ["temperature out of range"] = (() => With(r => r.Temperature = 1e300), StatusCode.InvalidArgument),
        ["negative max_tokens"] = (() => With(r => r.MaxTokens = -1), StatusCode.InvalidArgument),
        ["zero max_tokens"] = (() => With(r => r.MaxTokens = 0), StatusCode.InvalidArgument),
        ["negative n"] = (() => With(r => r.N = -5), StatusCode.InvalidArgument),
        ["NaN penalty"] = (() => With(r => r.PresencePenalty = double.NaN), StatusCode.InvalidArgument),
        ["negative top_k"] = (() => With(r => r.TopK = -1), StatusCode.InvalidArgument),
    };

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    // Bytes that are no protobuf message at all (refused before grpc-dotnet's own decoding, which would say UNKNOWN).
    private static readonly Dictionary<string, byte[]> Undecodable = new()
    {
        ["garbage bytes"] = [0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01],
        ["truncated message"] = Valid().ToByteArray()[..^3],
        ["length prefix past the end"] = [0x0A, 0xFF, 0xFF, 0xFF, 0x7F, 0x41],
        ["invalid UTF-8 in model"] = [0x0A, 0x02, 0xC3, 0x28, .. Valid().ToByteArray()[8..]],
    };

    public static TheoryData<string> UndecodableNames => [.. Undecodable.Keys];

    [Theory]
    [MemberData(nameof(UndecodableNames))]
    public async Task Chat_UndecodableBytes_IsInvalidArgumentAndChangesNothing(string caseName)
        => await RunAsync(ChatMethod, Undecodable[caseName], StatusCode.InvalidArgument);

    [Theory]
    [MemberData(nameof(UndecodableNames))]
    public async Task ChatStream_UndecodableBytes_IsInvalidArgumentAndChangesNothing(string caseName)
        => await RunAsync(StreamMethod, Undecodable[caseName], StatusCode.InvalidArgument);

    [Theory]
    [MemberData(nameof(UndecodableNames))]
    public async Task Embed_UndecodableBytes_IsInvalidArgumentAndChangesNothing(string caseName)
        => await RunAsync(EmbedMethod, Undecodable[caseName], StatusCode.InvalidArgument);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task Chat_HostileRequest_IsInvalidArgumentAndChangesNothing(string caseName)
    {
        var (bytes, status) = Cases[caseName];
        await RunAsync(ChatMethod, bytes(), status, richStatus: status != StatusCode.ResourceExhausted);
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task ChatStream_HostileRequest_IsInvalidArgumentAndChangesNothing(string caseName)
    {
        var (bytes, status) = Cases[caseName];
        await RunAsync(StreamMethod, bytes(), status, richStatus: status != StatusCode.ResourceExhausted);
    }

    public static TheoryData<string> EmbedCaseNames => [.. EmbedCases.Keys];

    private static readonly Dictionary<string, Func<EmbedRequest>> EmbedCases = new()
    {
        ["no input"] = () => new EmbedRequest { Model = "text-embedding-3-small" },
        ["10,000 inputs"] = () => new EmbedRequest { Model = "text-embedding-3-small", Input = { Enumerable.Repeat("a", 10_000) } },
        ["negative dimensions"] = () => new EmbedRequest { Model = "text-embedding-3-small", Input = { "a" }, Dimensions = -1 },
        ["1 MB model name"] = () => new EmbedRequest { Model = new string('m', 1024 * 1024), Input = { "a" } },
    };

    [Theory]
    [MemberData(nameof(EmbedCaseNames))]
    public async Task Embed_HostileRequest_IsInvalidArgumentAndChangesNothing(string caseName)
        => await RunAsync(EmbedMethod, EmbedCases[caseName]().ToByteArray(), StatusCode.InvalidArgument);

    private async Task RunAsync(Method<byte[], byte[]> method, byte[] request, StatusCode expected, bool richStatus = true)
    {
        var before = await fixture.SnapshotAsync();
        var since = TimeProvider.System.GetUtcNow().AddMilliseconds(-1);
        var invoker = _channel.CreateCallInvoker();
        var options = new CallOptions(new Metadata { { "authorization", "Bearer " + TestGateway.DefaultKey } }, cancellationToken: TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            if (method.Type == MethodType.Unary)
            {
                await invoker.AsyncUnaryCall(method, null, options, request);
                return;
            }
            using var call = invoker.AsyncServerStreamingCall(method, null, options, request);
            while (await call.ResponseStream.MoveNext(TestContext.Current.CancellationToken))
            {
            }
        });

        Assert.Equal(expected, error.StatusCode);
        Assert.False(string.IsNullOrWhiteSpace(error.Status.Detail));
        Assert.True(error.Status.Detail.Length < 2048, "the status never echoes a huge input");
        if (richStatus)
        {
            Assert.NotNull(error.GetRpcStatus());
        }
        Assert.Equal(before, await fixture.SnapshotAsync());
        await fixture.ProbeAsync(since);
    }

    public void Dispose() => _channel.Dispose();
}
