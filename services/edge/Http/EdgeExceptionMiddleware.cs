using Gateway.Common.Errors;

namespace Gateway.Edge.Http;

// Last line of defence: an unexpected exception becomes a 500 in the route's own error shape with the
// request id, never a bare connection reset or an HTML page. The details go to the log only.
public sealed class EdgeExceptionMiddleware(RequestDelegate next, ILogger<EdgeExceptionMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        // Once the response has started, let the exception reach Kestrel: it then ends the connection
        // without the final chunk, after sending what was written (HttpContext.Abort() could drop that).
        catch (Exception e) when (!context.Response.HasStarted && (e is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested))
        {
            EdgeLog.Unhandled(logger, e, context.Request.Path);
            if (context.Items[GatewayHeaders.RequestIdItem] is null)
            {
                GatewayHeaders.AssignRequestId(context);
            }
            var shape = ErrorWriter.ShapeFor(context);
            var error = e as GatewayException ?? new GatewayException(ErrorKind.Internal, "Internal error.");
            await ErrorWriter.WriteAsync(context, error, shape);
        }
    }
}
