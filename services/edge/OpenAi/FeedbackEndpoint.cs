using System.Text.Json;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Common.Events;
using Gateway.Common.Security;
using Gateway.Contracts.Traces.V1;
using Gateway.Edge.Http;
using Google.Protobuf.WellKnownTypes;

namespace Gateway.Edge.OpenAi;

// POST /v1/feedback {request_id, score, comment}: a caller's verdict on one response (score 0 to 1; a star
// rating divides by its maximum). Linked to the trace by request id, stored by the traces service from the
// bus, and counted in prompt experiments' feedback score. Needs a gateway key.
public static class FeedbackEndpoint
{
    public const int MaxCommentLength = 4000;

    public static IEndpointRouteBuilder MapFeedback(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/v1/feedback", ReceiveAsync);
        return endpoints;
    }

    private static async Task ReceiveAsync(HttpContext context, KeyAuthenticator keys, IEventBus events, ConfigMonitor config, TimeProvider time)
    {
        GatewayHeaders.AssignRequestId(context);
        try
        {
            var key = GatewayHeaders.BearerKey(context.Request);
            var principal = keys.Authenticate(key) ?? throw new GatewayException(ErrorKind.Authentication, string.IsNullOrEmpty(key)
                ? "Missing API key. Send your gateway key as 'Authorization: Bearer <key>'."
                : "Incorrect API key provided.");
            Feedback feedback;
            using (var body = await RequestBody.ReadJsonAsync(context, config.Current))
            {
                feedback = Read(body.RootElement);
            }
            feedback.KeyName = principal.KeyName;
            feedback.CreatedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow());
            await events.PublishAsync(Topics.Feedback, feedback, context.RequestAborted);
            context.Response.StatusCode = StatusCodes.Status202Accepted;
            context.Response.ContentType = "application/json";
            await using var writer = new Utf8JsonWriter(context.Response.BodyWriter);
            writer.WriteStartObject();
            writer.WriteString("object", "feedback");
            writer.WriteString("request_id", feedback.RequestId);
            writer.WriteNumber("score", feedback.Score);
            writer.WriteEndObject();
            await writer.FlushAsync(context.RequestAborted);
        }
        catch (GatewayException e) when (!context.Response.HasStarted)
        {
            await ErrorWriter.WriteAsync(context, e, ErrorShape.OpenAi);
        }
    }

    public static Feedback Read(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw GatewayException.BadRequest("Expected a JSON object {\"request_id\", \"score\", \"comment\"}.", "body");
        }
        var requestId = root.TryGetProperty("request_id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString()! : "";
        if (requestId.Length is 0 or > 128 || !requestId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw GatewayException.BadRequest("'request_id' is required: the x-request-id of the response being scored.", "request_id", "invalid_value");
        }
        if (!root.TryGetProperty("score", out var scoreElement) || !scoreElement.TryGetDouble(out var score) || score is < 0 or > 1 || !double.IsFinite(score))
        {
            throw GatewayException.BadRequest("'score' is required: a number from 0 (bad) to 1 (good).", "score", "invalid_value");
        }
        var comment = "";
        if (root.TryGetProperty("comment", out var commentElement) && commentElement.ValueKind != JsonValueKind.Null)
        {
            comment = commentElement.ValueKind == JsonValueKind.String ? commentElement.GetString()! : throw GatewayException.BadRequest("'comment' must be a string.", "comment", "invalid_value");
            if (comment.Length > MaxCommentLength)
            {
                throw GatewayException.BadRequest($"'comment' is longer than {MaxCommentLength} characters.", "comment", "invalid_value");
            }
        }
        return new Feedback { RequestId = requestId, Score = score, Comment = comment };
    }
}
