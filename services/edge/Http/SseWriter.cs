using System.Buffers;
using System.Text.Json;
using Gateway.Router.Providers;

namespace Gateway.Edge.Http;

// Writes server-sent events straight into the response pipe, flushing each one so tokens reach the
// client as they arrive.
public sealed class SseWriter(HttpResponse response)
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventPrefix = "event: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] LineEnd = "\n"u8.ToArray();

    public static void Start(HttpResponse response)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
    }

    public async ValueTask WriteAsync(string? eventName, Action<Utf8JsonWriter> writeJson, CancellationToken cancellationToken)
    {
        var pipe = response.BodyWriter;
        if (eventName is not null)
        {
            pipe.Write(EventPrefix);
            pipe.Write(System.Text.Encoding.UTF8.GetBytes(eventName));
            pipe.Write(LineEnd);
        }
        pipe.Write(DataPrefix);
        using (var writer = new Utf8JsonWriter(pipe, ProviderHttp.WriterOptions))
        {
            writeJson(writer);
        }
        pipe.Write(EventEnd);
        await pipe.FlushAsync(cancellationToken);
    }

    // Aborting right after a flush can drop bytes Kestrel has accepted but not yet written to the socket,
    // losing the error event. Give the transport a moment to send it, then abort: the client must see a
    // broken stream, never a clean end it could take for success.
    public static async Task AbortAfterDrainAsync(HttpContext context)
    {
        try
        {
            await Task.Delay(DrainGrace, context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            // The client is already gone.
        }
        context.Abort();
    }

    private static readonly TimeSpan DrainGrace = TimeSpan.FromMilliseconds(50);

    public async ValueTask WriteRawAsync(ReadOnlyMemory<byte> line, CancellationToken cancellationToken)
    {
        await response.BodyWriter.WriteAsync(line, cancellationToken);
    }
}
