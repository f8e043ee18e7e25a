using Dapr.Client;
using Gateway.Common.Configuration;
using Google.Protobuf;

namespace Gateway.Common.Events;

// Events in the mesh: published through the Dapr sidecar's pub/sub as protobuf bytes. The sidecar wraps them
// in a CloudEvent (`data_base64`, content type application/protobuf) and delivers them to the subscribers'
// endpoints (DaprSubscriptions), which handle a redelivery once by its CloudEvent id.
public sealed class DaprEventBus(DaprClient dapr, ServicesConfig services) : IEventBus
{
    public const string ContentType = "application/protobuf";

    public async ValueTask PublishAsync<T>(string topic, T message, CancellationToken cancellationToken) where T : IMessage<T>
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            // The CloudEvent id is the event's own id, so a redelivered or re-published event is recognisably the same.
            ["cloudevent.id"] = EventIds.Of(message) ?? Guid.NewGuid().ToString("N"),
            ["cloudevent.type"] = message.Descriptor.FullName,
        };
        await dapr.PublishByteEventAsync(services.Pubsub!, services.TopicFor(topic), message.ToByteArray(), ContentType, metadata, cancellationToken);
    }
}

public static class EventIds
{
    // TraceEvent is keyed by its request id, an MCP audit row by its own id, every other event by `event_id`.
    public static string? Of(IMessage message)
    {
        var field = message.Descriptor.FindFieldByName("event_id") ?? message.Descriptor.FindFieldByName("request_id")
            ?? (message is Contracts.Traces.V1.McpAuditEvent ? message.Descriptor.FindFieldByName("id") : null);
        return field?.Accessor.GetValue(message) is string { Length: > 0 } id ? id : null;
    }
}
