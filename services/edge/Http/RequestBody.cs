using System.Buffers;
using System.Text.Json;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Microsoft.AspNetCore.Http.Features;

namespace Gateway.Edge.Http;

// Reads a JSON request body within the configured size and nesting limits. Every way a body can be bad
// (too big, not JSON, invalid UTF-8, too deep) becomes a 4xx with a clear message.
public static class RequestBody
{
    public static async Task<JsonDocument> ReadJsonAsync(HttpContext context, GatewayConfig config)
    {
        // The body is parsed as JSON whatever Content-Type says: curl and many scripts omit it.
        var request = context.Request;
        var limit = config.Server.MaxRequestBodyBytes;
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = limit;
        }
        if (request.ContentLength > limit)
        {
            throw TooLarge(limit);
        }
        var buffer = new ArrayBufferWriter<byte>((int)Math.Min(request.ContentLength ?? 16 * 1024, limit) + 1);
        // With a Content-Length the buffer already has room for the whole body plus the byte that tells the end:
        // asking for more would copy it into a larger array on every request. Without one it grows as it fills.
        var readSize = request.ContentLength is null ? 16 * 1024 : 1;
        try
        {
            while (true)
            {
                var memory = buffer.GetMemory(readSize);
                var read = await request.Body.ReadAsync(memory, context.RequestAborted);
                if (read == 0)
                {
                    break;
                }
                buffer.Advance(read);
                if (buffer.WrittenCount > limit)
                {
                    throw TooLarge(limit);
                }
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge(limit);
        }
        catch (BadHttpRequestException e)
        {
            throw Unreadable(e);
        }
        if (buffer.WrittenCount == 0)
        {
            throw GatewayException.BadRequest("The request body is empty; send a JSON object.", code: "invalid_json");
        }
        // JsonDocument defers string transcoding, so invalid UTF-8 inside a string would only surface
        // later, deep in a handler. Check the whole body once, up front (vectorized, cheap).
        if (!System.Text.Unicode.Utf8.IsValid(buffer.WrittenSpan))
        {
            throw GatewayException.BadRequest("We could not parse the JSON body of your request: the body is not valid UTF-8.", code: "invalid_json");
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(buffer.WrittenMemory, new JsonDocumentOptions { MaxDepth = config.Server.MaxJsonDepth });
        }
        catch (JsonException e)
        {
            // Only the depth limit names "maximum configured depth"; a truncated body also mentions depth.
            var reason = e.Message.Contains("maximum configured depth", StringComparison.OrdinalIgnoreCase)
                ? $"the JSON is nested more than {config.Server.MaxJsonDepth} levels deep"
                : e.Message.Contains("UTF-8", StringComparison.OrdinalIgnoreCase) || e.InnerException is System.Text.DecoderFallbackException
                    ? "the body is not valid UTF-8"
                    : $"invalid JSON at line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1}";
            throw GatewayException.BadRequest($"We could not parse the JSON body of your request: {reason}.", code: "invalid_json");
        }
        if (!Gateway.Common.Json.JsonText.EscapesAreValid(buffer.WrittenSpan, config.Server.MaxJsonDepth))
        {
            document.Dispose();
            throw GatewayException.BadRequest("We could not parse the JSON body of your request: a \\u escape is a lone surrogate, which is not valid Unicode.", code: "invalid_json");
        }
        return document;
    }

    // Kestrel gave up on the body: over the size limit (413), or it arrived slower than
    // server.limits.min_request_body_bytes_per_second or ended before its Content-Length (400). The client's
    // fault, so a 4xx in the route's shape, never a 500.
    public static GatewayException Unreadable(BadHttpRequestException e)
        => e.StatusCode == StatusCodes.Status413PayloadTooLarge
            ? new GatewayException(ErrorKind.RequestTooLarge, "The request body exceeds the size limit.")
            : GatewayException.BadRequest($"The request body could not be read: {e.Message}", code: e.StatusCode == StatusCodes.Status408RequestTimeout ? "request_body_timeout" : "invalid_request_body");

    private static GatewayException TooLarge(long limit)
        => new(ErrorKind.RequestTooLarge, $"The request body exceeds the limit of {limit} bytes.");
}
