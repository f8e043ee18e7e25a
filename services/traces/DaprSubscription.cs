using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Gateway.Common.Events;
using Gateway.Contracts.Traces.V1;
using Gateway.Traces.Ingest;
using Gateway.Traces.Storage;
using Google.Protobuf;

namespace Gateway.Traces;

// The mesh transport: the Dapr sidecar asks /dapr/subscribe which topics this app takes, then delivers each
// event as a CloudEvent to /events/traces. The trace travels as protobuf (`data_base64`, content type
// application/protobuf) or as protobuf JSON (`data`). With APP_API_TOKEN set (Dapr's app API token) only
// requests carrying it in `dapr-api-token` are accepted.
public static class DaprSubscription
{
    public const string PubSubName = "pubsub";
    public const string Route = "/events/traces";
    public const string FeedbackRoute = "/events/feedback";

    private static readonly JsonParser ProtoJson = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    public static IEndpointRouteBuilder MapTraceSubscription(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/dapr/subscribe", () => Results.Json(new[]
        {
            new { pubsubname = PubSubName, topic = Topics.Traces, route = Route },
            new { pubsubname = PubSubName, topic = Topics.Feedback, route = FeedbackRoute },
        }));
        endpoints.MapPost(Route, ReceiveAsync);
        endpoints.MapPost(FeedbackRoute, ReceiveFeedbackAsync);
        return endpoints;
    }

    // Answers as Dapr expects: SUCCESS (stored or queued), DROP (malformed: redelivery cannot help).
    private static async Task<IResult> ReceiveAsync(HttpContext context, TraceIngestor ingestor)
    {
        if (!Authorized(context))
        {
            return Results.Unauthorized();
        }
        var trace = await ReadAsync(context, TraceEvent.Parser);
        if (trace is null || trace.RequestId.Length == 0)
        {
            return Results.Json(new { status = "DROP" });
        }
        ingestor.Accept(trace);
        return Results.Json(new { status = "SUCCESS" });
    }

    // Feedback is stored directly (one small row); a store failure answers RETRY so the sidecar redelivers.
    private static async Task<IResult> ReceiveFeedbackAsync(HttpContext context, ITraceStore store)
    {
        if (!Authorized(context))
        {
            return Results.Unauthorized();
        }
        if (await ReadAsync(context, Feedback.Parser) is not { RequestId.Length: > 0 } feedback)
        {
            return Results.Json(new { status = "DROP" });
        }
        try
        {
            await store.WriteFeedbackAsync(feedback, context.RequestAborted);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return Results.Json(new { status = "RETRY" });
        }
        return Results.Json(new { status = "SUCCESS" });
    }

    private static bool Authorized(HttpContext context)
        => Environment.GetEnvironmentVariable("APP_API_TOKEN") is not { Length: > 0 } token
           || CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(token), Encoding.UTF8.GetBytes(context.Request.Headers["dapr-api-token"].ToString()));

    private static async Task<T?> ReadAsync<T>(HttpContext context, MessageParser<T> parser) where T : class, IMessage<T>, new()
    {
        try
        {
            using var cloudEvent = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            return Parse(cloudEvent.RootElement, parser);
        }
        catch (Exception e) when (e is JsonException or InvalidProtocolBufferException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    public static TraceEvent? Parse(JsonElement cloudEvent) => Parse(cloudEvent, TraceEvent.Parser);

    public static T? Parse<T>(JsonElement cloudEvent, MessageParser<T> parser) where T : class, IMessage<T>, new()
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
