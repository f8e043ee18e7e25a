using Dapr.Client;
using Google.Protobuf;

namespace Gateway.Common.Events;

// Events in the mesh: published through the Dapr sidecar's pub/sub as protobuf bytes. The sidecar wraps them
// in a CloudEvent (`data_base64`, content type application/protobuf) and delivers them to the subscribers'
// endpoints (services/traces/DaprSubscription.cs), which handle redelivery idempotently by event id.
public sealed class DaprEventBus(DaprClient dapr, string pubSubName) : IEventBus
{
    public const string ContentType = "application/protobuf";

    public async ValueTask PublishAsync<T>(string topic, T message, CancellationToken cancellationToken) where T : IMessage<T>
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (EventId(message) is { Length: > 0 } id)
        {
            // The CloudEvent id is the request id, so a redelivered or re-published event is recognisably the same.
            metadata["cloudevent.id"] = id;
        }
        await dapr.PublishByteEventAsync(pubSubName, topic, message.ToByteArray(), ContentType, metadata, cancellationToken);
    }

    private static string? EventId(IMessage message) => message switch
    {
        Contracts.Traces.V1.TraceEvent trace => trace.RequestId,
        Contracts.Traces.V1.McpAuditEvent audit => audit.Id,
        _ => null,
    };
}
