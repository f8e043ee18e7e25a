using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using Gateway.Common.Clients;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Traces.V1;
using Gateway.Testing.Fakes;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;
using OpenAI.Chat;

namespace Gateway.Mesh.Tests;

// The mesh in one process (InMemoryMesh), end to end with the official OpenAI client: the same answers,
// errors and traces as the embedded gateway, with the call context carried across every gRPC hop.
public sealed class InMemoryMeshTests : IAsyncLifetime
{
    private readonly CallRecorder _guardCalls = new();
    private FakeOpenAi _upstream = null!;
    private InMemoryMesh _mesh = null!;
    private string _common = "";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _upstream = await FakeOpenAi.StartNewAsync();
        _common = $$"""
            providers:
              openai: { kind: openai, base_url: "{{_upstream.Url}}v1" }
            models:
              gpt-4o: { targets: [{ provider: openai, model: gpt-4o }], price: { input: 2.5, output: 10 } }
            keys:
            {{TestGateway.Key()}}
            guard:
              policies:
                default: { entities: { default: audit, EMAIL: pseudonymize } }
              assign:
                - { scope: {}, policy: default }
            budgets:
              - { name: qa-monthly, scope: { team: qa }, limit_usd: 100, period: month }
            """;
        _mesh = await InMemoryMesh.StartAsync(_common, (name, builder) =>
        {
            if (name == "guard")
            {
                builder.Services.AddSingleton(_guardCalls);
                builder.Services.AddGrpc(options => options.Interceptors.Add<CallRecorder>());
            }
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _mesh.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private static ChatClient Chat(Uri baseAddress, HttpClient? http = null, string key = TestGateway.DefaultKey)
        => new OpenAIClient(new ApiKeyCredential(key), new OpenAIClientOptions
        {
            Endpoint = new Uri(baseAddress, "/v1"),
            Transport = http is null ? null : new HttpClientPipelineTransport(http),
        }).GetChatClient("gpt-4o");

    private ChatClient MeshChat(string key = TestGateway.DefaultKey) => Chat(_mesh.EdgeServer.BaseAddress, _mesh.EdgeServer.CreateClient(), key);

    [Fact]
    public async Task Chat_AcrossTheInMemoryMesh_AnswersLikeEmbedded()
    {
        var result = await MeshChat().CompleteChatAsync([new UserChatMessage("across the mesh")], cancellationToken: Ct);

        Assert.Equal("Echo: across the mesh", result.Value.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, result.Value.FinishReason);
        var headers = result.GetRawResponse().Headers;
        Assert.True(headers.TryGetValue("x-gateway-provider", out var provider));
        Assert.Equal("openai", provider);
        Assert.True(headers.TryGetValue("x-request-id", out var requestId));
        Assert.False(string.IsNullOrEmpty(requestId));
        Assert.True(result.Value.Usage.TotalTokenCount > 0);
    }

    [Fact]
    public async Task Stream_AcrossTheInMemoryMesh_DeliversEveryDeltaAndUsage()
    {
        _upstream.Replies.Enqueue(FakeReply.Say("streamed over two gRPC hops"));
        var text = new System.Text.StringBuilder();
        ChatTokenUsage? usage = null;
        await foreach (var update in MeshChat().CompleteChatStreamingAsync([new UserChatMessage("go")], new ChatCompletionOptions(), Ct))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
            usage ??= update.Usage;
        }

        Assert.Equal("streamed over two gRPC hops", text.ToString());
    }

    [Fact]
    public async Task Chat_WrongKey_401FromTheRouterInOpenAiShape()
    {
        var error = await Assert.ThrowsAsync<ClientResultException>(() => MeshChat("wrong-key-00000000000").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct));

        Assert.Equal(401, error.Status);
        Assert.Contains("invalid_api_key", error.GetRawResponse()!.Content.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, _upstream.CallCount);
    }

    [Fact]
    public async Task SameRequest_EmbeddedAndMesh_SameResultAndSameTrace()
    {
        await using var embedded = await TestGateway.StartAsync(_common);
        ChatMessage[] messages = [new UserChatMessage("mail bob@example.com the plan")];

        var inEmbedded = await Chat(embedded.HttpBase).CompleteChatAsync(messages, cancellationToken: Ct);
        var inMesh = await MeshChat().CompleteChatAsync(messages, cancellationToken: Ct);

        Assert.Equal(inEmbedded.Value.Content[0].Text, inMesh.Value.Content[0].Text);
        var embeddedTrace = await embedded.TraceAsync(RequestId(inEmbedded));
        var meshTrace = await TestGateway.TraceAsync(_mesh.Router.Services, RequestId(inMesh));
        Assert.NotEmpty(meshTrace.GuardFindings);
        Assert.True(meshTrace.CostUsd > 0);
        Assert.Equal(Comparable(embeddedTrace), Comparable(meshTrace));
    }

    [Fact]
    public async Task GuardCall_CarriesRequestIdPrincipalDeadlineAndTraceContext()
    {
        var result = await MeshChat().CompleteChatAsync([new UserChatMessage("context please")], cancellationToken: Ct);

        var call = Assert.Single(_guardCalls.Calls, c => c.Method.EndsWith("CheckInput", StringComparison.Ordinal));
        Assert.Equal(RequestId(result), call.RequestId);
        Assert.Equal("qa", call.Principal?.Team);
        // The edge's request budget (services.request_timeout_seconds, 600 s by default) less what has passed.
        var now = TimeProvider.System.GetUtcNow().UtcDateTime;
        Assert.InRange(call.Deadline, now.AddSeconds(500), now.AddSeconds(600));
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$", call.TraceParent);
    }

    [Theory]
    [InlineData("edge")]
    [InlineData("router")]
    [InlineData("guard")]
    [InlineData("budget")]
    [InlineData("prompts")]
    public async Task EveryService_AnswersGrpcHealthCheck_Serving(string service)
    {
        var host = service switch
        {
            "edge" => _mesh.Edge,
            "router" => _mesh.Router,
            "guard" => _mesh.Guard,
            "budget" => _mesh.Budget,
            _ => _mesh.Prompts,
        };
        using var channel = GrpcChannel.ForAddress(host.GetTestServer().BaseAddress, new GrpcChannelOptions { HttpHandler = host.GetTestServer().CreateHandler() });

        var response = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), cancellationToken: Ct);

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, response.Status);
    }

    private static string RequestId(ClientResult result)
        => result.GetRawResponse().Headers.TryGetValue("x-request-id", out var id) ? id! : throw new InvalidOperationException("no x-request-id");

    // A trace without what differs by nature between two runs: ids, clocks and timings.
    private static TraceEvent Comparable(TraceEvent trace)
    {
        var copy = trace.Clone();
        copy.RequestId = "";
        copy.RequestBody = copy.RequestBody.Replace(trace.RequestId, "", StringComparison.Ordinal);
        copy.StartedAt = null;
        copy.FinishedAt = null;
        copy.Latencies = null;
        foreach (var attempt in copy.Attempts)
        {
            attempt.LatencyMs = 0;
        }
        return copy;
    }

    public sealed record RecordedCall(string Method, string? RequestId, Principal? Principal, DateTime Deadline, string? TraceParent);

    // What a guard replica sees of each incoming call.
    public sealed class CallRecorder : Interceptor
    {
        public ConcurrentQueue<RecordedCall> Calls { get; } = new();

        public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
        {
            var recorder = context.GetHttpContext().RequestServices.GetRequiredService<CallRecorder>();
            var bytes = context.RequestHeaders.GetValueBytes(CallContext.PrincipalHeader);
            recorder.Calls.Enqueue(new RecordedCall(context.Method, context.RequestHeaders.GetValue(CallContext.RequestIdHeader),
                bytes is null ? null : Principal.Parser.ParseFrom(bytes), context.Deadline, context.RequestHeaders.GetValue("traceparent")));
            return continuation(request, context);
        }
    }
}
