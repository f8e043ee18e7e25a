using System.ClientModel;
using System.Text.Json;
using Gateway.Testing.Fakes;
using OpenAI.Chat;

namespace Gateway.Faults.Tests;

// A provider that is down, silent, resetting connections or answering garbage, behind the embedded gateway,
// the official OpenAI client in front. Whatever a fallback can serve is served (and every attempt is in the
// x-gateway-attempts header and in the trace); what nothing can serve is a 502/503/504 in OpenAI's error
// shape, quickly: never a 401, never a hang, never a 200 that is not an answer.
public sealed class ProviderFaultTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // Faults a plain (non-streaming) request can meet, with the status the gateway reports for each attempt.
    public static TheoryData<UpstreamFault, bool> EveryFault()
    {
        var data = new TheoryData<UpstreamFault, bool>();
        foreach (var fault in Enum.GetValues<UpstreamFault>())
        {
            var streamOnly = fault.ToString().StartsWith("Stream", StringComparison.Ordinal);
            if (!streamOnly)
            {
                data.Add(fault, false);
            }
            if (fault != UpstreamFault.StreamResetAfterTwoChunks)
            {
                data.Add(fault, true);
            }
        }
        return data;
    }

    private sealed class Setup : IAsyncDisposable
    {
        public required ChaosUpstream Broken { get; init; }
        public required FakeOpenAi Good { get; init; }
        public required TestGateway Gateway { get; init; }

        public static async Task<Setup> StartAsync(UpstreamFault fault)
        {
            var broken = ChaosUpstream.Start(fault);
            var good = await FakeOpenAi.StartNewAsync();
            // `doomed` has only broken deployments (two providers on the same broken server, so one failing
            // over to the other proves the chain ends in an error and not in a loop).
            var gateway = await TestGateway.StartAsync($$"""
                providers:
                  broken: { kind: openai, base_url: "{{broken.Url}}v1", timeout_seconds: 2 }
                  broken-too: { kind: openai, base_url: "{{broken.Url}}v1", timeout_seconds: 2 }
                  good: { kind: openai, base_url: "{{good.Url}}v1" }
                models:
                  main:
                    targets: [{ provider: broken, model: m1 }]
                    fallbacks: [spare]
                  spare:
                    targets: [{ provider: good, model: m2 }]
                  doomed:
                    targets: [{ provider: broken, model: d1 }]
                    fallbacks: [doomed-too]
                  doomed-too:
                    targets: [{ provider: broken-too, model: d2 }]
                keys:
                {{TestGateway.Key()}}
                """);
            return new Setup { Broken = broken, Good = good, Gateway = gateway };
        }

        public async ValueTask DisposeAsync()
        {
            await Gateway.DisposeAsync();
            await Broken.DisposeAsync();
            await Good.DisposeAsync();
        }
    }

    private static async Task<(string Text, ResponseHeaders Headers)> AskAsync(TestGateway gateway, string model, string requestId, bool stream)
    {
        var headers = new ResponseHeaders();
        var chat = SdkClients.Chat(gateway.HttpBase, model, requestId, headers);
        if (!stream)
        {
            var result = await chat.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);
            return (result.Value.Content[0].Text, headers);
        }
        var text = new System.Text.StringBuilder();
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("hi")], cancellationToken: Ct))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }
        return (text.ToString(), headers);
    }

    [Theory]
    [MemberData(nameof(EveryFault))]
    public async Task Chat_PrimaryBroken_FallbackServesAndEveryAttemptIsRecorded(UpstreamFault fault, bool stream)
    {
        await using var setup = await Setup.StartAsync(fault);
        var id = $"fallback-{fault}-{stream}";

        var (text, headers) = await AskAsync(setup.Gateway, "main", id, stream).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal("Echo: hi", text);
        Assert.Equal("2", headers["x-gateway-attempts"]);
        Assert.Equal("good", headers["x-gateway-provider"]);
        Assert.Equal("spare", headers["x-gateway-model"]);
        var trace = await setup.Gateway.TraceAsync(id);
        Assert.Equal(200, trace.HttpStatus);
        Assert.Equal(2, trace.Attempts.Count);
        var (provider, status, errorClass) = (trace.Attempts[0].Provider, trace.Attempts[0].HttpStatus, trace.Attempts[0].ErrorClass);
        Assert.Equal("broken", provider);
        Assert.Equal(ExpectedAttempt(fault), (status, errorClass));
        Assert.Equal(("good", 200, ""), (trace.Attempts[1].Provider, trace.Attempts[1].HttpStatus, trace.Attempts[1].ErrorClass));
        Assert.Equal(fault == UpstreamFault.Down ? 0 : 1, setup.Broken.Connections);
    }

    [Theory]
    [MemberData(nameof(EveryFault))]
    public async Task Chat_EveryDeploymentBroken_OpenAiShaped5xxNeverHangs(UpstreamFault fault, bool stream)
    {
        await using var setup = await Setup.StartAsync(fault);
        var id = $"doomed-{fault}-{stream}";
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<ClientResultException>(() => AskAsync(setup.Gateway, "doomed", id, stream).WaitAsync(TimeSpan.FromSeconds(30), Ct));

        // Two providers with a 2 s timeout each: a silent upstream costs at most their sum.
        Assert.InRange(clock.Elapsed.TotalSeconds, 0, 10);
        var expected = fault is UpstreamFault.Silent or UpstreamFault.StallMidBody ? 504 : 502;
        Assert.Equal(expected, error.Status);
        using var body = JsonDocument.Parse(error.GetRawResponse()!.Content.ToString());
        var shape = body.RootElement.GetProperty("error");
        Assert.Equal("server_error", shape.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(shape.GetProperty("message").GetString()));
        Assert.Equal(expected == 504 ? "upstream_timeout" : "upstream_error", shape.GetProperty("code").GetString());
        Assert.DoesNotContain("nginx", shape.GetProperty("message").GetString(), StringComparison.Ordinal);
        var trace = await setup.Gateway.TraceAsync(id);
        Assert.Equal(expected, trace.HttpStatus);
        Assert.Equal(["broken", "broken-too"], trace.Attempts.Select(a => a.Provider));
        Assert.All(trace.Attempts, a => Assert.Equal(ExpectedAttempt(fault), (a.HttpStatus, a.ErrorClass)));
    }

    // Once a chunk has reached the client the answer cannot be replaced: the stream ends in an error the SDK
    // raises (never a clean end it would read as a complete answer), and nothing is sent to the fallback.
    [Fact]
    public async Task Stream_ResetAfterChunksReachedTheClient_SdkRaisesAndNoFallbackIsCalled()
    {
        await using var setup = await Setup.StartAsync(UpstreamFault.StreamResetAfterTwoChunks);
        var received = new System.Text.StringBuilder();
        var chat = SdkClients.Chat(setup.Gateway.HttpBase, "main", "midstream-reset");

        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("hi")], cancellationToken: Ct).WithCancellation(Ct))
            {
                foreach (var part in update.ContentUpdate)
                {
                    received.Append(part.Text);
                }
            }
        }).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.IsNotType<OperationCanceledException>(error);
        Assert.Equal("Partial", received.ToString());
        Assert.Equal(0, setup.Good.CallCount);
        var trace = await setup.Gateway.TraceAsync("midstream-reset");
        Assert.Equal("broken", Assert.Single(trace.Attempts).Provider);
        // The attempt did start as a 200; the request as a whole is recorded as the upstream failure it became.
        Assert.Equal(("error", "upstream_error", 502), (trace.Status, trace.ErrorClass, trace.HttpStatus));
    }

    // What the trace says about an attempt on the broken provider: the provider's own status when it sent
    // one, otherwise the status the gateway stands for it, and the error class the routing policy acts on.
    private static (int Status, string ErrorClass) ExpectedAttempt(UpstreamFault fault) => fault switch
    {
        UpstreamFault.Silent or UpstreamFault.StallMidBody => (504, "timeout"),
        UpstreamFault.HtmlBadGateway502 => (502, "server_error"),
        _ => (502, "connection"),
    };
}
