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
        Write(eventName, writeJson);
        await response.BodyWriter.FlushAsync(cancellationToken);
    }

    // Buffers one event without flushing, for surfaces that turn one chunk into several events (Anthropic):
    // they reach the client together with the next FlushAsync.
    public void Write(string? eventName, Action<Utf8JsonWriter> writeJson)
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
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        await response.BodyWriter.FlushAsync(cancellationToken);
    }

    public void WriteRaw(ReadOnlySpan<byte> bytes) => response.BodyWriter.Write(bytes);
}
