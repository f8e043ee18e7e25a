using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Dapr.Client;
using Gateway.Common.Events;
using Gateway.Contracts.Traces.V1;
using Gateway.Traces.Tests.Dapr.StandIn;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Traces.Tests.Dapr;

// The publishing half of the mesh transport: DaprEventBus publishes through the real DaprClient to an
// in-process stand-in of the sidecar's gRPC API (dapr.proto.runtime.v1.Dapr/PublishEvent), and what it sends
// is exactly what the traces subscription reads back once the sidecar wraps it in a CloudEvent.
public sealed class DaprPublishTests : IAsyncLifetime
{
    private readonly SidecarStandIn _sidecar = new();
    private WebApplication _app = null!;
    private DaprClient _dapr = null!;

    public async ValueTask InitializeAsync()
    {
        var port = FreePort.Get();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(_sidecar);
        _app = builder.Build();
        _app.MapGrpcService<SidecarStandIn>();
        await _app.StartAsync(TestContext.Current.CancellationToken);
        _dapr = new DaprClientBuilder().UseGrpcEndpoint($"http://127.0.0.1:{port}").UseHttpEndpoint($"http://127.0.0.1:{port}").Build();
    }

    public async ValueTask DisposeAsync()
    {
        _dapr.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task Publish_Trace_SidecarReceivesPubsubTopicProtobufAndEventId()
    {
        var trace = TraceData.Make(1, "dapr-publish")[0];
        var bus = new DaprEventBus(_dapr, "gateway-pubsub");

        await bus.PublishAsync(Topics.Traces, trace, TestContext.Current.CancellationToken);

        var received = Assert.Single(_sidecar.Received);
        Assert.Equal("gateway-pubsub", received.PubsubName);
        Assert.Equal("traces", received.Topic);
        Assert.Equal("application/protobuf", received.DataContentType);
        Assert.Equal(trace.RequestId, received.Metadata["cloudevent.id"]);
        Assert.Equal(trace, TraceEvent.Parser.ParseFrom(received.Data));
    }

    [Fact]
    public async Task Publish_ThenDeliveredAsTheSidecarWould_SubscriptionReadsTheSameTrace()
    {
        var trace = TraceData.Make(1, "dapr-roundtrip")[0];
        await new DaprEventBus(_dapr, "pubsub").PublishAsync(Topics.Traces, trace, TestContext.Current.CancellationToken);
        var received = Assert.Single(_sidecar.Received);

        // daprd wraps a non-JSON payload in a CloudEvent with data_base64 and the publisher's content type.
        var cloudEvent = JsonSerializer.SerializeToElement(new Dictionary<string, object>
        {
            ["specversion"] = "1.0",
            ["id"] = received.Metadata["cloudevent.id"],
            ["source"] = "router",
            ["type"] = "com.dapr.event.sent",
            ["topic"] = received.Topic,
            ["pubsubname"] = received.PubsubName,
            ["datacontenttype"] = received.DataContentType,
            ["data_base64"] = Convert.ToBase64String(received.Data.ToByteArray()),
        });

        Assert.Equal(trace, DaprSubscription.Parse(cloudEvent));
    }

    [Fact]
    public async Task Publish_SidecarDown_ThrowsSoTheCallerCanKeepTheEvent()
    {
        using var unreachable = new DaprClientBuilder().UseGrpcEndpoint($"http://127.0.0.1:{FreePort.Get()}").Build();
        var bus = new DaprEventBus(unreachable, "pubsub");

        await Assert.ThrowsAnyAsync<Exception>(async () => await bus.PublishAsync(Topics.Traces, TraceData.Make(1, "down")[0], TestContext.Current.CancellationToken));
    }

    public sealed class SidecarStandIn : StandIn.Dapr.DaprBase
    {
        public ConcurrentQueue<PublishEventRequest> Received { get; } = new();

        public override Task<Google.Protobuf.WellKnownTypes.Empty> PublishEvent(PublishEventRequest request, ServerCallContext context)
        {
            Received.Enqueue(request);
            return Task.FromResult(new Google.Protobuf.WellKnownTypes.Empty());
        }
    }
}
