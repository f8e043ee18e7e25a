using Gateway.Contracts.Inference.V1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;

namespace Gateway.Router.Inference;

// grpc-dotnet decodes a request before any service code runs, and answers bytes that are no protobuf message
// with UNKNOWN ("Exception was thrown by handler"). This wraps the Inference endpoints: an uncompressed request
// whose message does not decode is answered INVALID_ARGUMENT with a google.rpc.Status, as every other bad
// input is; anything else (compressed, oversized, well-formed) goes on to gRPC, which reads it again.
public static class UndecodableRequests
{
    private static readonly Dictionary<string, MessageParser> Parsers = new(StringComparer.Ordinal)
    {
        ["/gateway.inference.v1.Inference/Chat"] = ChatRequest.Parser,
        ["/gateway.inference.v1.Inference/ChatStream"] = ChatRequest.Parser,
        ["/gateway.inference.v1.Inference/Embed"] = EmbedRequest.Parser,
    };

    public static TBuilder RefuseUndecodableRequests<TBuilder>(this TBuilder builder, long maxMessageBytes) where TBuilder : IEndpointConventionBuilder
    {
        builder.Add(endpoint =>
        {
            var inner = endpoint.RequestDelegate!;
            endpoint.RequestDelegate = async context =>
            {
                if (Parsers.TryGetValue(context.Request.Path.Value ?? "", out var parser) && await UndecodableAsync(context, parser, maxMessageBytes))
                {
                    WriteInvalidArgument(context);
                    return;
                }
                await inner(context);
            };
        });
        return builder;
    }

    private static async Task<bool> UndecodableAsync(HttpContext context, MessageParser parser, long maxMessageBytes)
    {
        context.Request.EnableBuffering();
        try
        {
            // The 5-byte frame header first: a compressed or oversized message is gRPC's to judge, unread.
            var header = new byte[5];
            if (await context.Request.Body.ReadAtLeastAsync(header, 5, throwOnEndOfStream: false, context.RequestAborted) < 5 || header[0] != 0)
            {
                return false;
            }
            var length = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(1));
            if (length > maxMessageBytes || length > int.MaxValue)
            {
                return false;
            }
            var message = new byte[length];
            if (await context.Request.Body.ReadAtLeastAsync(message, (int)length, throwOnEndOfStream: false, context.RequestAborted) < length)
            {
                return false;
            }
            parser.ParseFrom(message);
            return false;
        }
        catch (InvalidProtocolBufferException)
        {
            return true;
        }
        finally
        {
            context.Request.Body.Position = 0;
        }
    }

    // A trailers-only gRPC response: the status travels in the headers and there is no message.
    private static void WriteInvalidArgument(HttpContext context)
    {
        const string message = "The request is not a valid protobuf message of the method's request type.";
        var status = new Google.Rpc.Status
        {
            Code = (int)Grpc.Core.StatusCode.InvalidArgument,
            Message = message,
            Details = { Any.Pack(new ErrorInfo { Reason = "invalid_protobuf", Domain = "gateway" }) },
        };
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = ((int)Grpc.Core.StatusCode.InvalidArgument).ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = Uri.EscapeDataString(message);
        response.Headers["grpc-status-details-bin"] = Convert.ToBase64String(status.ToByteArray()).TrimEnd('=');
    }
}
