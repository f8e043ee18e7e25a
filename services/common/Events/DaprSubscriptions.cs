using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapr;
using Gateway.Common.Configuration;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Common.Events;

// The receiving half of the mesh transport. The sidecar asks /dapr/subscribe (Dapr.AspNetCore's handler)
// which topics this app takes, then POSTs each event as a CloudEvent to /events/<name>. Each registered
// IEventHandler gets one such route, so the handlers Dapr calls are the ones the in-process bus calls.
//
// Answers, as the sidecar reads them: 200 SUCCESS (handled, or a redelivery of an id handled within
// services.dedup_window_seconds); 200 DROP (malformed: redelivery cannot help, the sidecar moves it to the
// dead-letter topic if one is set); 500 RETRY (the handler failed: the sidecar redelivers per its resiliency
// policy, then dead-letters).
public static class DaprSubscriptions
{
    public const string RoutePrefix = "/events/";

    private static readonly JsonParser ProtoJson = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    public static IEndpointRouteBuilder MapEventSubscriptions(this IEndpointRouteBuilder endpoints, ServicesConfig services)
    {
        if (services.Pubsub is not { Length: > 0 } pubsub)
        {
            return endpoints;
        }
        endpoints.MapSubscribeHandler();
        var deduplicator = endpoints.ServiceProvider.GetRequiredService<EventDeduplicator>();
        var logger = endpoints.ServiceProvider.GetRequiredService<ILogger<EventDeduplicator>>();
        foreach (var group in endpoints.ServiceProvider.GetServices<EventHandlerRegistration>().GroupBy(r => r.Topic, StringComparer.Ordinal))
        {
            var handlers = group.ToArray();
            var options = new TopicOptions { PubsubName = pubsub, Name = services.TopicFor(group.Key) };
            if (services.DeadLetterTopic is { } deadLetter)
            {
                options.DeadLetterTopic = deadLetter;
            }
            endpoints.MapPost(RoutePrefix + group.Key, context => ReceiveAsync(context, handlers, deduplicator, logger)).WithTopic(options);
        }
        return endpoints;
    }

    private static async Task ReceiveAsync(HttpContext context, EventHandlerRegistration[] handlers, EventDeduplicator deduplicator, ILogger logger)
    {
        // Dapr's app API token: with APP_API_TOKEN set only the sidecar (which sends it) may deliver.
        if (Environment.GetEnvironmentVariable("APP_API_TOKEN") is { Length: > 0 } token
            && !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(token), Encoding.UTF8.GetBytes(context.Request.Headers["dapr-api-token"].ToString())))
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return;
        }
        string? id;
        IMessage? message;
        try
        {
            using var cloudEvent = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            id = cloudEvent.RootElement.TryGetProperty("id", out var idElement) ? idElement.GetString() : null;
            message = Parse(cloudEvent.RootElement, handlers[0].Parser);
        }
        catch (Exception e) when (e is JsonException or InvalidProtocolBufferException or FormatException or InvalidOperationException)
        {
            message = null;
            id = null;
        }
        if (message is null || string.IsNullOrEmpty(id))
        {
            CommonLog.EventDropped(logger, handlers[0].Topic);
            await Status(context, StatusCodes.Status200OK, "DROP");
            return;
        }
        if (!deduplicator.TryBegin(id))
        {
            await Status(context, StatusCodes.Status200OK, "SUCCESS");
            return;
        }
        try
        {
            foreach (var handler in handlers)
            {
                await handler.Invoke(message, context.RequestAborted);
            }
            deduplicator.Complete(id);
        }
        catch (Exception e)
        {
            deduplicator.Abandon(id);
            CommonLog.EventHandlerFailed(logger, e, handlers[0].Topic);
            await Status(context, StatusCodes.Status500InternalServerError, "RETRY");
            return;
        }
        await Status(context, StatusCodes.Status200OK, "SUCCESS");
    }

    private static Task Status(HttpContext context, int code, string status)
    {
        context.Response.StatusCode = code;
        return context.Response.WriteAsJsonAsync(new { status }, context.RequestAborted);
    }

    // The payload of a CloudEvent as daprd delivers it: protobuf in `data_base64`, or protobuf JSON in `data`.
    public static IMessage? Parse(JsonElement cloudEvent, MessageParser parser)
    {
        if (cloudEvent.TryGetProperty("data_base64", out var base64) && base64.ValueKind == JsonValueKind.String)
        {
            return parser.ParseFrom(Convert.FromBase64String(base64.GetString()!));
        }
        if (!cloudEvent.TryGetProperty("data", out var data))
        {
            return null;
        }
        var json = data.ValueKind switch
        {
            JsonValueKind.Object => data.GetRawText(),
            // Some publishers send the payload as a JSON string.
            JsonValueKind.String => data.GetString(),
            _ => null,
        };
        return json is null ? null : ProtoJson.Parse(json, parser.ParseFrom([]).Descriptor);
    }
}

// Event ids handled recently. An id in flight or completed within the window is a duplicate; a failed one is
// forgotten so the sidecar's redelivery runs it again.
public sealed class EventDeduplicator(TimeProvider time, ConfigMonitor config)
{
    private readonly Dictionary<string, DateTimeOffset?> _seen = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private DateTimeOffset _nextSweep;

    public bool TryBegin(string id)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            Sweep(now);
            if (_seen.TryGetValue(id, out var completed) && (completed is null || completed.Value > now))
            {
                return false;
            }
            _seen[id] = null;
            return true;
        }
    }

    public void Complete(string id)
    {
        lock (_lock)
        {
            _seen[id] = time.GetUtcNow().AddSeconds(config.Current.Services.DedupWindowSeconds);
        }
    }

    public void Abandon(string id)
    {
        lock (_lock)
        {
            _seen.Remove(id);
        }
    }

    private void Sweep(DateTimeOffset now)
    {
        if (now < _nextSweep)
        {
            return;
        }
        _nextSweep = now.AddSeconds(10);
        foreach (var (id, expires) in _seen)
        {
            if (expires is { } at && at <= now)
            {
                _seen.Remove(id);
            }
        }
    }
}
