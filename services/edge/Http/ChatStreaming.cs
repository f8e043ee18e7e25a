using Gateway.Common.Errors;
using Gateway.Contracts.Inference.V1;

namespace Gateway.Edge.Http;

// Streams neutral chunks to a client as server-sent events in the surface's own format (OpenAI chunks,
// Anthropic events), with the same guarantees on every surface.
public static class ChatStreaming
{
    public static async Task WriteAsync(
        HttpContext context,
        IAsyncEnumerable<ChatChunk> chunks,
        ErrorShape shape,
        Action<SseWriter, ChatChunk> writeChunk,
        Action<SseWriter> complete,
        CancellationToken cancellationToken,
        Action<SseWriter, GatewayException>? writeError = null)
    {
        await using var enumerator = chunks.GetAsyncEnumerator(cancellationToken);
        // Wait for the first chunk before sending headers: until then, a failure is an ordinary error
        // response and the router may still fail over.
        if (!await enumerator.MoveNextAsync())
        {
            throw new GatewayException(ErrorKind.UpstreamError, "The provider sent an empty stream.");
        }
        GatewayHeaders.Served(context.Response, enumerator.Current.Served);
        SseWriter.Start(context.Response);
        var sse = new SseWriter(context.Response);
        try
        {
            writeChunk(sse, enumerator.Current);
            await sse.FlushAsync(cancellationToken);
            // A flush hands the bytes to Kestrel's socket sender, which runs as a thread-pool work item of its
            // own. When the provider's next chunks are already buffered this loop never waits, and on a busy
            // or single core the sender ran only once 64 KB had piled up (the pipe's back-pressure mark): the
            // first byte left with the last. Stepping aside once lets the headers and first chunk go now.
            await Task.Yield();
            while (await enumerator.MoveNextAsync())
            {
                writeChunk(sse, enumerator.Current);
                await sse.FlushAsync(cancellationToken);
            }
            complete(sse);
            await sse.FlushAsync(cancellationToken);
        }
        catch (GatewayException e)
        {
            // Headers are gone: report in-band, then cut the response off so no client mistakes this for a
            // complete answer (see ResponseAbortedException for why this is not HttpContext.Abort()).
            if (writeError is not null)
            {
                writeError(sse, e);
            }
            else
            {
                sse.Write(shape == ErrorShape.Anthropic ? "error" : null, w => ErrorWriter.Write(w, e, shape, ErrorWriter.RequestId(context)));
            }
            await sse.FlushAsync(CancellationToken.None);
            throw new ResponseAbortedException(ErrorWriter.RequestId(context), e);
        }
    }
}
