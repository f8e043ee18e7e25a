using System.Text.Json;
using Dapr.Client;
using Gateway.Common.Configuration;
using Gateway.Common.Events;
using Gateway.Common.Hosting;
using Gateway.Contracts.Events.V1;
using Gateway.Contracts.Traces.V1;
using Gateway.FakeDaprSidecar;
using Gateway.Traces.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sidecar = Gateway.FakeDaprSidecar.FakeDaprSidecar;

namespace Gateway.Traces.Tests.Dapr;

// The mesh's event transport end to end, against the test-only stand-in of the sidecar: DaprEventBus publishes
// through the real DaprClient to dapr.proto.runtime.v1.Dapr/PublishEvent; the stand-in delivers CloudEvents to
// the subscriptions the app declares through Dapr.AspNetCore, and redelivers as daprd does.
public sealed class DaprContractTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "gateway-dapr-contract", Guid.NewGuid().ToString("N"));
    private FlakyConfigHandler _flaky = null!;
    private WebApplication _app = null!;
    private WebApplication _sidecarHost = null!;
    private Sidecar _sidecar = null!;
    private DaprClient _dapr = null!;
    private GatewayConfig _config = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        var appPort = FreePort.Get();
        var sidecarPort = FreePort.Get();
        _config = new GatewayConfig
        {
            Storage = new StorageConfig { Traces = $"sqlite://{_directory}/traces.db" },
            Traces = new TracesConfig { FlushMilliseconds = 10 },
            Services = new ServicesConfig
            {
                Pubsub = "gateway-pubsub",
                Topics = new(StringComparer.Ordinal) { [Topics.BudgetUsage] = "gateway-budget-usage" },
                DeadLetterTopic = "gateway-dead-letters",
            },
        };
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{appPort}");
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => new ConfigMonitor(_config, null, sp.GetRequiredService<ILogger<ConfigMonitor>>()));
        builder.Services.AddGrpc();
        builder.Services.AddEventBus(_config);
        builder.Services.AddTraces(_config);
        builder.Services.AddEventHandler<FlakyConfigHandler, ConfigChangedEvent>();
        _app = builder.Build();
        _flaky = _app.Services.GetRequiredService<FlakyConfigHandler>();
        _app.MapTraces();
        _app.MapEventSubscriptions(_config.Services);
        await _app.StartAsync(Ct);

        _sidecarHost = Sidecar.Host(sidecarPort, [new Uri($"http://127.0.0.1:{appPort}")], out _sidecar);
        await _sidecarHost.StartAsync(Ct);
        _dapr = new DaprClientBuilder().UseGrpcEndpoint($"http://127.0.0.1:{sidecarPort}").Build();
    }

    public async ValueTask DisposeAsync()
    {
        _dapr.Dispose();
        await _sidecarHost.StopAsync();
        await _sidecarHost.DisposeAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private DaprEventBus Bus => new(_dapr, _config.Services);

    [Fact]
    public async Task Publish_Trace_SidecarReceivesPubsubTopicProtobufAndEventId()
    {
        var trace = TraceData.Make(1, "dapr-publish")[0];

        await Bus.PublishAsync(Topics.Traces, trace, Ct);

        var received = Assert.Single(_sidecar.Published);
        Assert.Equal("gateway-pubsub", received.PubsubName);
        Assert.Equal("traces", received.Topic);
        Assert.Equal("application/protobuf", received.DataContentType);
        Assert.Equal(trace.RequestId, received.Metadata["cloudevent.id"]);
        Assert.Equal("gateway.traces.v1.TraceEvent", received.Metadata["cloudevent.type"]);
        Assert.Equal(trace, TraceEvent.Parser.ParseFrom(received.Data));
    }

    [Fact]
    public async Task Publish_BudgetUsage_GoesToTheConfiguredTopicUnderItsEventId()
    {
        var usage = new BudgetUsageEvent { EventId = "res-1", ReservationId = "res-1", CostUsd = 0.25 };

        await Bus.PublishAsync(Topics.BudgetUsage, usage, Ct);

        var received = Assert.Single(_sidecar.Published);
        Assert.Equal("gateway-budget-usage", received.Topic);
        Assert.Equal("res-1", received.Metadata["cloudevent.id"]);
        Assert.Equal(usage, BudgetUsageEvent.Parser.ParseFrom(received.Data));
    }

    [Fact]
    public async Task Publish_SidecarDown_ThrowsSoTheCallerCanKeepTheEvent()
    {
        using var unreachable = new DaprClientBuilder().UseGrpcEndpoint($"http://127.0.0.1:{FreePort.Get()}").Build();
        var bus = new DaprEventBus(unreachable, _config.Services);

        await Assert.ThrowsAnyAsync<Exception>(async () => await bus.PublishAsync(Topics.Traces, TraceData.Make(1, "down")[0], Ct));
    }

    [Fact]
    public async Task Trace_PublishedThroughTheSidecar_DeliveredAsCloudEventAndStored()
    {
        var trace = TraceData.Make(1, "dapr-roundtrip")[0];
        var delivered = WaitForDelivery(d => d.Route.EndsWith("/events/traces", StringComparison.Ordinal));

        await Bus.PublishAsync(Topics.Traces, trace, Ct);

        var delivery = await delivered;
        Assert.Equal("SUCCESS", delivery.Outcome);
        using var cloudEvent = JsonDocument.Parse(delivery.CloudEvent);
        Assert.Equal(trace.RequestId, cloudEvent.RootElement.GetProperty("id").GetString());
        Assert.Equal("application/protobuf", cloudEvent.RootElement.GetProperty("datacontenttype").GetString());
        Assert.Equal("gateway-pubsub", cloudEvent.RootElement.GetProperty("pubsubname").GetString());
        Assert.Equal(trace, TraceEvent.Parser.ParseFrom(Convert.FromBase64String(cloudEvent.RootElement.GetProperty("data_base64").GetString()!)));
        Assert.Equal(trace, await WaitForTraceAsync(trace.RequestId));
    }

    [Fact]
    public async Task Handler_FailsOnce_SidecarRedeliversAndItRunsOnce()
    {
        _flaky.FailuresLeft = 1;
        var message = new ConfigChangedEvent { EventId = "cfg-1", Service = "router", Sha256 = "ab" };
        var succeeded = WaitForDelivery(d => d.Outcome == "SUCCESS");

        await Bus.PublishAsync(Topics.ConfigChanged, message, Ct);
        await succeeded;

        Assert.Equal(["RETRY", "SUCCESS"], _sidecar.Deliveries.Select(d => d.Outcome));
        Assert.Equal(500, _sidecar.Deliveries.First().HttpStatus);
        Assert.Equal([message], _flaky.Handled);
    }

    [Fact]
    public async Task SameEventPublishedTwice_HandledOnce()
    {
        var message = new ConfigChangedEvent { EventId = "cfg-dup", Service = "router" };
        var second = WaitForDelivery(_ => _sidecar.Deliveries.Count == 2);

        await Bus.PublishAsync(Topics.ConfigChanged, message, Ct);
        await Bus.PublishAsync(Topics.ConfigChanged, message, Ct);
        await second;

        Assert.All(_sidecar.Deliveries, d => Assert.Equal("SUCCESS", d.Outcome));
        Assert.Single(_flaky.Handled);
    }

    [Fact]
    public async Task MalformedPayload_DroppedNotRetried_AndParkedOnTheDeadLetterTopic()
    {
        var parked = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        _sidecar.DeadLettered += topic => parked.TrySetResult(topic);

        await _dapr.PublishByteEventAsync("gateway-pubsub", "traces", new byte[] { 0xff, 0xff, 0xff }, "application/protobuf",
            new Dictionary<string, string> { ["cloudevent.id"] = "broken-1" }, Ct);

        Assert.Equal("gateway-dead-letters", await parked.Task.WaitAsync(TimeSpan.FromSeconds(20), Ct));
        var delivery = Assert.Single(_sidecar.Deliveries);
        Assert.Equal("DROP", delivery.Outcome);
        var (_, cloudEvent) = Assert.Single(_sidecar.DeadLetters);
        Assert.Contains("broken-1", cloudEvent, StringComparison.Ordinal);
    }

    private Task<Delivery> WaitForDelivery(Func<Delivery, bool> match)
    {
        var done = new TaskCompletionSource<Delivery>(TaskCreationOptions.RunContinuationsAsynchronously);
        _sidecar.Delivered += d =>
        {
            if (match(d))
            {
                done.TrySetResult(d);
            }
        };
        return done.Task.WaitAsync(TimeSpan.FromSeconds(20), Ct);
    }

    private async Task<TraceEvent?> WaitForTraceAsync(string requestId)
    {
        var store = _app.Services.GetRequiredService<ITraceStore>();
        for (var i = 0; i < 200; i++)
        {
            if (await store.GetAsync(requestId, Ct) is { } stored)
            {
                return stored;
            }
            await Task.Delay(50, Ct);
        }
        return null;
    }

    public sealed class FlakyConfigHandler : IEventHandler<ConfigChangedEvent>
    {
        public int FailuresLeft { get; set; }

        public List<ConfigChangedEvent> Handled { get; } = [];

        public string Topic => Topics.ConfigChanged;

        public Task HandleAsync(ConfigChangedEvent message, CancellationToken cancellationToken)
        {
            if (FailuresLeft-- > 0)
            {
                throw new InvalidOperationException("store down (test)");
            }
            Handled.Add(message);
            return Task.CompletedTask;
        }
    }
}
