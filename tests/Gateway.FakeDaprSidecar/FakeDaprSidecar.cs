using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Gateway.FakeDaprSidecar.Runtime;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Gateway.FakeDaprSidecar;

// TEST ONLY — not part of the gateway. daprd cannot run on the test machines, so this plays the part of the
// Dapr sidecar (for every app at once) and of the message broker behind it:
// - it serves the sidecar's gRPC runtime API call the gateway uses, dapr.proto.runtime.v1.Dapr/PublishEvent,
//   which DaprClient.PublishEventAsync / PublishByteEventAsync call;
// - it asks each app's /dapr/subscribe for its subscriptions, and delivers every published event to each app
//   subscribed to its pubsub and topic as daprd does: a CloudEvent (application/cloudevents+json) POSTed to the
//   subscription's route, `data` for JSON payloads and `data_base64` for binary ones, `cloudevent.*` metadata
//   overriding the envelope's attributes;
// - it reads the answer as daprd does: 2xx with status SUCCESS (or no status) is delivered; 2xx RETRY and any
//   other status but 404 are redelivered (same CloudEvent, same id) up to MaxAttempts times; DROP and 404 are
//   not redelivered; an event that is dropped or out of attempts goes to the subscription's deadLetterTopic.
public sealed class FakeDaprSidecar : Runtime.Dapr.DaprBase, IAsyncDisposable
{
    private readonly Channel<PublishEventRequest> _queue = Channel.CreateUnbounded<PublishEventRequest>();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly IReadOnlyList<Uri> _apps;
    private readonly ConcurrentDictionary<Uri, IReadOnlyList<Subscription>> _subscriptions = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _delivery;

    public FakeDaprSidecar(IReadOnlyList<Uri> apps)
    {
        _apps = apps;
        _delivery = Task.Run(DeliverAsync);
    }

    public int MaxAttempts { get; init; } = 5;

    public TimeSpan RetryBackoff { get; init; } = TimeSpan.FromMilliseconds(100);

    // What publishers sent, in order.
    public ConcurrentQueue<PublishEventRequest> Published { get; } = new();

    // Every delivery attempt: the app, the route, the CloudEvent sent and the HTTP status answered.
    public ConcurrentQueue<Delivery> Deliveries { get; } = new();

    // Raised after each delivery attempt (tests wait on it instead of sleeping).
    public event Action<Delivery>? Delivered;

    // Events moved to a dead-letter topic (dropped, or out of attempts): the topic and the CloudEvent.
    public ConcurrentQueue<(string Topic, string CloudEvent)> DeadLetters { get; } = new();

    public event Action<string>? DeadLettered;

    public override async Task<Google.Protobuf.WellKnownTypes.Empty> PublishEvent(PublishEventRequest request, ServerCallContext context)
    {
        if (request.PubsubName.Length == 0 || request.Topic.Length == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "pubsub name and topic are required"));
        }
        Published.Enqueue(request);
        await _queue.Writer.WriteAsync(request, context.CancellationToken);
        return new Google.Protobuf.WellKnownTypes.Empty();
    }

    // Builds the CloudEvent daprd would deliver for a published request.
    public static JsonObject CloudEvent(PublishEventRequest request)
    {
        var contentType = request.DataContentType.Length > 0 ? request.DataContentType : "application/json";
        var cloudEvent = new JsonObject
        {
            ["specversion"] = "1.0",
            ["id"] = Guid.NewGuid().ToString(),
            ["source"] = "fake-dapr-sidecar",
            ["type"] = "com.dapr.event.sent",
            ["datacontenttype"] = contentType,
            ["pubsubname"] = request.PubsubName,
            ["topic"] = request.Topic,
            ["time"] = DateTimeOffset.UnixEpoch.ToString("O"),
            ["traceid"] = "",
        };
        foreach (var (key, value) in request.Metadata)
        {
            if (key.StartsWith("cloudevent.", StringComparison.Ordinal))
            {
                cloudEvent[key["cloudevent.".Length..]] = value;
            }
        }
        if (contentType.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            cloudEvent["data"] = JsonNode.Parse(request.Data.Span);
        }
        else if (contentType.StartsWith("text/", StringComparison.OrdinalIgnoreCase))
        {
            cloudEvent["data"] = request.Data.ToStringUtf8();
        }
        else
        {
            cloudEvent["data_base64"] = Convert.ToBase64String(request.Data.Span);
        }
        return cloudEvent;
    }

    private async Task DeliverAsync()
    {
        try
        {
            await foreach (var request in _queue.Reader.ReadAllAsync(_stopping.Token))
            {
                var cloudEvent = CloudEvent(request);
                foreach (var app in _apps)
                {
                    await DeliverToAppAsync(app, request.PubsubName, request.Topic, cloudEvent);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task DeliverToAppAsync(Uri app, string pubsub, string topic, JsonObject cloudEvent)
    {
        foreach (var subscription in await SubscriptionsAsync(app))
        {
            if (subscription.PubsubName != pubsub || subscription.Topic != topic)
            {
                continue;
            }
            var outcome = await DeliverWithRetriesAsync(app, subscription.Route, cloudEvent);
            if (outcome != "SUCCESS" && subscription.DeadLetterTopic is { Length: > 0 } deadLetter)
            {
                var parked = cloudEvent.DeepClone().AsObject();
                parked["topic"] = deadLetter;
                DeadLetters.Enqueue((deadLetter, parked.ToJsonString()));
                DeadLettered?.Invoke(deadLetter);
                await DeliverToAppAsync(app, pubsub, deadLetter, parked);
            }
        }
    }

    private async Task<string> DeliverWithRetriesAsync(Uri app, string route, JsonObject cloudEvent)
    {
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            var status = await PostAsync(app, route, cloudEvent);
            if (status is "SUCCESS" or "DROP")
            {
                return status;
            }
            await Task.Delay(RetryBackoff, _stopping.Token);
        }
        return "RETRY";
    }

    private async Task<string> PostAsync(Uri app, string route, JsonObject cloudEvent)
    {
        HttpStatusCode code;
        string status;
        try
        {
            using var content = new StringContent(cloudEvent.ToJsonString(), System.Text.Encoding.UTF8, "application/cloudevents+json");
            using var response = await _http.PostAsync(new Uri(app, route), content, _stopping.Token);
            code = response.StatusCode;
            var body = await response.Content.ReadAsStringAsync(_stopping.Token);
            status = code switch
            {
                HttpStatusCode.NotFound => "DROP",
                _ when !response.IsSuccessStatusCode => "RETRY",
                _ => StatusOf(body),
            };
        }
        catch (HttpRequestException)
        {
            code = 0;
            status = "RETRY";
        }
        var delivery = new Delivery(app, route, cloudEvent.ToJsonString(), (int)code, status);
        Deliveries.Enqueue(delivery);
        Delivered?.Invoke(delivery);
        return status;
    }

    private static string StatusOf(string body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return "SUCCESS";
        }
        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("status", out var s)
                ? s.GetString()?.ToUpperInvariant() ?? "SUCCESS"
                : "SUCCESS";
        }
        catch (JsonException)
        {
            return "SUCCESS";
        }
    }

    // GET /dapr/subscribe, as daprd does when the app starts (asked again until the app answers).
    private async Task<IReadOnlyList<Subscription>> SubscriptionsAsync(Uri app)
    {
        if (_subscriptions.TryGetValue(app, out var known))
        {
            return known;
        }
        for (var attempt = 0; attempt < 50; attempt++)
        {
            try
            {
                var json = await _http.GetStringAsync(new Uri(app, "/dapr/subscribe"), _stopping.Token);
                var parsed = Subscription.ParseAll(json);
                _subscriptions[app] = parsed;
                return parsed;
            }
            catch (HttpRequestException e) when (e.StatusCode == HttpStatusCode.NotFound)
            {
                // An app without subscriptions.
                _subscriptions[app] = [];
                return [];
            }
            catch (HttpRequestException)
            {
                await Task.Delay(200, _stopping.Token);
            }
        }
        return [];
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stopping.CancelAsync();
        await _delivery;
        _http.Dispose();
        _stopping.Dispose();
    }

    // Serves the sidecar's gRPC API on 127.0.0.1:port (h2c), delivering to the given apps' HTTP ports.
    public static WebApplication Host(int grpcPort, IReadOnlyList<Uri> apps, out FakeDaprSidecar sidecar)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, grpcPort, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        var instance = new FakeDaprSidecar(apps);
        builder.Services.AddSingleton(instance);
        var app = builder.Build();
        app.MapGrpcService<FakeDaprSidecar>();
        app.Lifetime.ApplicationStopped.Register(() => instance.DisposeAsync().AsTask().GetAwaiter().GetResult());
        sidecar = instance;
        return app;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        int? port = null;
        var apps = new List<Uri>();
        for (var i = 0; i < args.Length - 1; i += 2)
        {
            switch (args[i])
            {
                case "--grpc-port":
                    port = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture);
                    break;
                case "--app":
                    apps.Add(new Uri(args[i + 1]));
                    break;
            }
        }
        if (port is null || apps.Count == 0)
        {
            await Console.Error.WriteLineAsync("usage: Gateway.FakeDaprSidecar --grpc-port PORT --app http://127.0.0.1:APP_PORT [--app …]");
            return 2;
        }
        await using var app = Host(port.Value, apps, out _);
        await app.RunAsync();
        return 0;
    }
}

public sealed record Delivery(Uri App, string Route, string CloudEvent, int HttpStatus, string Outcome);

// One entry of /dapr/subscribe, in the shapes Dapr.AspNetCore writes (`route`, or `routes.default`).
public sealed record Subscription(string PubsubName, string Topic, string Route, string? DeadLetterTopic)
{
    public static IReadOnlyList<Subscription> ParseAll(string json)
    {
        using var document = JsonDocument.Parse(json);
        var list = new List<Subscription>();
        foreach (var entry in document.RootElement.EnumerateArray())
        {
            var pubsub = Text(entry, "pubsubname") ?? Text(entry, "pubsubName") ?? "";
            var topic = Text(entry, "topic") ?? "";
            var route = Text(entry, "route")
                ?? (entry.TryGetProperty("routes", out var routes) ? Text(routes, "default") : null)
                ?? "/";
            list.Add(new Subscription(pubsub, topic, route.StartsWith('/') ? route : "/" + route, Text(entry, "deadLetterTopic")));
        }
        return list;
    }

    private static string? Text(JsonElement element, string name)
        => element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
