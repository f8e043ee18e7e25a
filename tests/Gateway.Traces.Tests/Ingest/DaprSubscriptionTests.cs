using System.Net.Http.Json;
using System.Text.Json;
using Gateway.Common.Configuration;
using Gateway.Common.Events;
using Gateway.Common.Hosting;
using Gateway.Contracts.Traces.V1;
using Gateway.Traces.Ingest;
using Gateway.Traces.Storage;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Traces.Tests.Ingest;

// The traces service as a mesh app: it answers the sidecar's /dapr/subscribe and accepts the CloudEvents the
// sidecar delivers (protobuf in data_base64, or protobuf JSON in data); malformed events are dropped, not retried.
public sealed class DaprSubscriptionTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "gateway-dapr-tests", Guid.NewGuid().ToString("N"));
    private WebApplication _app = null!;
    private HttpClient _http = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        var port = FreePort.Get();
        var config = new GatewayConfig
        {
            Storage = new StorageConfig { Traces = $"sqlite://{_directory}/traces.db" },
            Traces = new TracesConfig { FlushMilliseconds = 10 },
            Services = new ServicesConfig { Pubsub = "pubsub" },
        };
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => new ConfigMonitor(config, null, sp.GetRequiredService<ILogger<ConfigMonitor>>()));
        builder.Services.AddGrpc();
        builder.Services.AddEventBus(config);
        builder.Services.AddTraces(config);
        _app = builder.Build();
        _app.MapTraces();
        _app.MapEventSubscriptions(config.Services);
        await _app.StartAsync(Ct);
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task Subscribe_ListsTheTracesAndMcpAuditTopics()
    {
        using var doc = JsonDocument.Parse(await _http.GetStringAsync(new Uri("/dapr/subscribe", UriKind.Relative), Ct));
        var subscriptions = doc.RootElement.EnumerateArray().ToList();
        Assert.All(subscriptions, s => Assert.Equal("pubsub", s.GetProperty("pubsubName").GetString()));
        var routes = subscriptions.Select(s => (s.GetProperty("topic").GetString(), s.GetProperty("route").GetString()!.TrimStart('/'))).ToList();
        Assert.Contains(("traces", "events/traces"), routes);
        Assert.Contains(("mcp-audit", "events/mcp-audit"), routes);
    }

    [Fact]
    public async Task CloudEvent_McpAudit_StoredInTheAuditTableOnceWhenRedelivered()
    {
        var audit = new McpAuditEvent
        {
            Id = "audit-dapr-1",
            Time = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(TraceData.Start),
            Principal = "agent-1",
            Server = "everything",
            Tool = "everything__echo",
            Outcome = "ok",
        };
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _app.Services.GetRequiredService<TraceIngestor>().Written += _ => written.TrySetResult();
        var body = $$"""{"specversion":"1.0","type":"com.dapr.event.sent","source":"mcp","id":"audit-dapr-1","topic":"mcp-audit","pubsubname":"pubsub","datacontenttype":"application/protobuf","data_base64":"{{Convert.ToBase64String(audit.ToByteArray())}}"}""";

        foreach (var _ in new[] { 1, 2 })
        {
            using var response = await _http.PostAsync(new Uri("/events/mcp-audit", UriKind.Relative), new StringContent(body, System.Text.Encoding.UTF8, "application/cloudevents+json"), Ct);
            Assert.Equal("SUCCESS", (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("status").GetString());
        }
        await written.Task.WaitAsync(TimeSpan.FromSeconds(20), Ct);

        var rows = await _app.Services.GetRequiredService<IMcpAuditStore>().QueryAuditAsync(new McpAuditFilter { Principal = "agent-1" }, Ct);
        Assert.Equal(audit, Assert.Single(rows));
        Assert.Equal(0, await _app.Services.GetRequiredService<ITraceStore>().CountAsync(new TraceFilter(), Ct));
    }

    [Fact]
    public async Task CloudEvents_ProtobufAndJsonPayloads_StoredOnce()
    {
        var traces = TraceData.Make(3, "dapr");
        var ingestor = _app.Services.GetRequiredService<TraceIngestor>();
        var store = _app.Services.GetRequiredService<ITraceStore>();
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var count = 0;
        ingestor.Written += n =>
        {
            if (Interlocked.Add(ref count, n) >= 3)
            {
                written.TrySetResult();
            }
        };
        object Envelope(string id) => new { specversion = "1.0", type = "com.dapr.event.sent", source = "router", id, topic = "traces", pubsubname = "pubsub" };

        // As the sidecar delivers what DaprClient.PublishByteEventAsync(..., "application/protobuf") sent.
        var binary = JsonSerializer.SerializeToElement(Envelope("e1")).ToString()!.TrimEnd('}')
            + $",\"datacontenttype\":\"application/protobuf\",\"data_base64\":\"{Convert.ToBase64String(traces[0].ToByteArray())}\"}}";
        // As it delivers a JSON payload (protobuf JSON of the event).
        var json = JsonSerializer.SerializeToElement(Envelope("e2")).ToString()!.TrimEnd('}')
            + $",\"datacontenttype\":\"application/json\",\"data\":{JsonFormatter.Default.Format(traces[1])}}}";
        var redelivered = binary;
        var asString = JsonSerializer.SerializeToElement(Envelope("e3")).ToString()!.TrimEnd('}')
            + $",\"datacontenttype\":\"application/json\",\"data\":{JsonSerializer.Serialize(JsonFormatter.Default.Format(traces[2]))}}}";
        foreach (var body in new[] { binary, json, redelivered, asString })
        {
            using var response = await _http.PostAsync(new Uri("/events/traces", UriKind.Relative), new StringContent(body, System.Text.Encoding.UTF8, "application/cloudevents+json"), Ct);
            response.EnsureSuccessStatusCode();
            Assert.Equal("SUCCESS", (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("status").GetString());
        }
        await written.Task.WaitAsync(TimeSpan.FromSeconds(20), Ct);

        foreach (var trace in traces)
        {
            Assert.Equal(trace, await store.GetAsync(trace.RequestId, Ct));
        }
        Assert.Equal(3, await store.CountAsync(new TraceFilter(), Ct));
    }

    [Fact]
    public async Task CloudEvent_Malformed_Dropped()
    {
        foreach (var body in new[] { "{\"specversion\":\"1.0\",\"data_base64\":\"%%%\"}", "{\"specversion\":\"1.0\"}", "not json" })
        {
            using var response = await _http.PostAsync(new Uri("/events/traces", UriKind.Relative), new StringContent(body, System.Text.Encoding.UTF8, "application/cloudevents+json"), Ct);
            response.EnsureSuccessStatusCode();
            Assert.Equal("DROP", (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("status").GetString());
        }
    }
}
