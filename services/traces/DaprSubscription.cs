using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Gateway.Common.Events;
using Gateway.Contracts.Traces.V1;
using Gateway.Traces.Ingest;
using Google.Protobuf;

namespace Gateway.Traces;

// The mesh transport: the Dapr sidecar asks /dapr/subscribe which topics this app takes, then delivers each
// event as a CloudEvent to /events/traces. The trace travels as protobuf (`data_base64`, content type
// application/protobuf) or as protobuf JSON (`data`); MCP audit events likewise to /events/mcp-audit. With APP_API_TOKEN set (Dapr's app API token) only
// requests carrying it in `dapr-api-token` are accepted.
public static class DaprSubscription
{
    public const string PubSubName = "pubsub";
    public const string Route = "/events/traces";
    public const string AuditRoute = "/events/mcp-audit";

    private static readonly JsonParser ProtoJson = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    public static IEndpointRouteBuilder MapTraceSubscription(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/dapr/subscribe", () => Results.Json(new[]
        {
            new { pubsubname = PubSubName, topic = Topics.Traces, route = Route },
            new { pubsubname = PubSubName, topic = Topics.McpAudit, route = AuditRoute },
        }));
        endpoints.MapPost(Route, (HttpContext context, TraceIngestor ingestor) => ReceiveAsync(context, ingestor, Parse));
        endpoints.MapPost(AuditRoute, (HttpContext context, TraceIngestor ingestor) => ReceiveAsync(context, ingestor, ParseAudit));
        return endpoints;
    }

    // Answers as Dapr expects: SUCCESS (stored or queued), DROP (malformed: redelivery cannot help).
    private static async Task<IResult> ReceiveAsync(HttpContext context, TraceIngestor ingestor, Func<JsonElement, TraceEvent?> parse)
    {
        if (Environment.GetEnvironmentVariable("APP_API_TOKEN") is { Length: > 0 } token
            && !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(token), Encoding.UTF8.GetBytes(context.Request.Headers["dapr-api-token"].ToString())))
        {
            return Results.Unauthorized();
        }
        TraceEvent? trace;
        try
        {
            using var cloudEvent = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            trace = parse(cloudEvent.RootElement);
        }
        catch (Exception e) when (e is JsonException or InvalidProtocolBufferException or FormatException or InvalidOperationException)
        {
            trace = null;
        }
        if (trace is null || trace.RequestId.Length == 0)
        {
            return Results.Json(new { status = "DROP" });
        }
        ingestor.Accept(trace);
        return Results.Json(new { status = "SUCCESS" });
    }

    public static TraceEvent? ParseAudit(JsonElement cloudEvent)
        => Payload<McpAuditEvent>(cloudEvent, McpAuditEvent.Parser) is { Id.Length: > 0 } audit ? Storage.McpAuditEnvelope.Wrap(audit) : null;

    public static TraceEvent? Parse(JsonElement cloudEvent) => Payload<TraceEvent>(cloudEvent, TraceEvent.Parser);

    private static T? Payload<T>(JsonElement cloudEvent, MessageParser<T> parser) where T : class, IMessage<T>, new()
    {
        if (cloudEvent.TryGetProperty("data_base64", out var base64) && base64.ValueKind == JsonValueKind.String)
        {
            return parser.ParseFrom(Convert.FromBase64String(base64.GetString()!));
        }
        if (cloudEvent.TryGetProperty("data", out var data))
        {
            return data.ValueKind switch
            {
                JsonValueKind.Object => ProtoJson.Parse<T>(data.GetRawText()),
                // Some publishers send the payload as a JSON string.
                JsonValueKind.String => ProtoJson.Parse<T>(data.GetString()!),
                _ => null,
            };
        }
        return null;
    }
}
