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
    // A trace is keyed by its request id, an MCP audit row by its own id, any other event by its `event_id`
    // field. Feedback has none on purpose: a later score for the same request replaces the earlier one.
    public static string? Of(IMessage message) => message switch
    {
        Contracts.Traces.V1.TraceEvent trace => NonEmpty(trace.RequestId),
        Contracts.Traces.V1.McpAuditEvent audit => NonEmpty(audit.Id),
        _ => message.Descriptor.FindFieldByName("event_id")?.Accessor.GetValue(message) as string is { Length: > 0 } id ? id : null,
    };

    private static string? NonEmpty(string value) => value.Length > 0 ? value : null;
}
