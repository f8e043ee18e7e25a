using System.Text.Json;
using Gateway.Common.Errors;
using Google.Protobuf;
using Gateway.Router.Providers;

namespace Gateway.Edge.Http;

public enum ErrorShape
{
    OpenAi,
    Anthropic,
    // A gRPC call on the gRPC port: a trailers-only response with the google.rpc status.
    Grpc,
    // The MCP endpoints (/mcp, /mcp/NAME): a JSON-RPC error without an id, as they answer transport-level refusals.
    JsonRpc,
}

// Writes a GatewayException in the route's own error shape. Only allow-listed kinds carry their message;
// anything else is a generic text with the request id (details stay in the logs and the trace).
public static class ErrorWriter
{
    public static async Task WriteAsync(HttpContext context, GatewayException error, ErrorShape shape)
    {
        if (shape == ErrorShape.Grpc)
        {
            WriteGrpcStatus(context, error);
            return;
        }
        var response = context.Response;
        response.StatusCode = ErrorMapping.HttpStatus(error.Kind);
        response.ContentType = "application/json";
        if (error.RetryAfterSeconds is { } retry)
        {
            response.Headers.RetryAfter = retry.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        foreach (var (name, value) in error.Headers ?? new Dictionary<string, string>())
        {
            response.Headers[name] = value;
        }
        await using var writer = new Utf8JsonWriter(response.BodyWriter, ProviderHttp.WriterOptions);
        Write(writer, error, shape, RequestId(context));
        await writer.FlushAsync(context.RequestAborted);
    }

    public static void Write(Utf8JsonWriter writer, GatewayException error, ErrorShape shape, string requestId)
    {
        var message = ErrorMapping.IsClientVisible(error.Kind) ? error.Message : $"The gateway failed to handle the request (request id {requestId}).";
        writer.WriteStartObject();
        if (shape == ErrorShape.JsonRpc)
        {
            writer.WriteString("jsonrpc", "2.0");
            writer.WriteNull("id");
            writer.WriteStartObject("error");
            writer.WriteNumber("code", JsonRpcServerError);
            writer.WriteString("message", message);
            writer.WriteStartObject("data");
            writer.WriteString("code", error.Code);
            writer.WriteString("request_id", requestId);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        else if (shape == ErrorShape.Anthropic)
        {
            writer.WriteString("type", "error");
            writer.WriteStartObject("error");
            writer.WriteString("type", ErrorMapping.AnthropicType(error.Kind));
            writer.WriteString("message", message);
            writer.WriteEndObject();
            writer.WriteString("request_id", requestId);
        }
        else
        {
            writer.WriteStartObject("error");
            writer.WriteString("message", message);
            writer.WriteString("type", ErrorMapping.OpenAiType(error.Kind));
            if (error.Param is null)
            {
                writer.WriteNull("param");
            }
            else
            {
                writer.WriteString("param", error.Param);
            }
            writer.WriteString("code", error.Code);
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
    }

    // JSON-RPC's "server error" range (-32000 to -32099): the HTTP status and data.code say which.
    private const int JsonRpcServerError = -32000;

    // gRPC calls get a gRPC status; the Anthropic surface answers in Anthropic's shape, the MCP endpoints in
    // JSON-RPC's; everything else (the OpenAI surface and the admin API) speaks OpenAI's.
    public static ErrorShape ShapeFor(HttpContext context)
        => context.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true ? ErrorShape.Grpc
            : context.Request.Path.StartsWithSegments("/v1/messages") ? ErrorShape.Anthropic
            : context.Request.Path.StartsWithSegments("/mcp") ? ErrorShape.JsonRpc
            : ErrorShape.OpenAi;

    // Trailers-only: HTTP 200 with the status in the headers and no messages, as gRPC servers answer a call
    // refused before it ran; the details are the same google.rpc status the gRPC services send.
    private static void WriteGrpcStatus(HttpContext context, GatewayException error)
    {
        var status = GrpcErrors.ToStatus(error, RequestId(context));
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = status.Code.ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = Uri.EscapeDataString(status.Message);
        response.Headers["grpc-status-details-bin"] = Convert.ToBase64String(status.ToByteArray());
    }

    public static string RequestId(HttpContext context) => context.Items[GatewayHeaders.RequestIdItem] as string ?? context.TraceIdentifier;
}
