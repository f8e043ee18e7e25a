using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Common.Hosting;
using Gateway.Traces.Storage;

namespace Gateway.Edge.Http;

// First and last step of the edge. It names the request (x-request-id on the response, request_id on every
// log line), and as the last line of defence turns an unexpected exception into a 500 in the route's own
// error shape with the request id, never a bare connection reset or an HTML page. Details go to the log only.
public sealed class EdgeExceptionMiddleware(RequestDelegate next, TimeProvider time, ConfigMonitor config, ILogger<EdgeExceptionMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        // Every response carries x-request-id, and every log line written while serving it carries request_id.
        var requestId = GatewayHeaders.AssignRequestId(context);
        using var scope = Serilog.Context.LogContext.PushProperty("request_id", requestId);
        // The request's time budget starts now; calls to services in other processes get what is left of it.
        CallContext.Enter(requestId, null, time, config);
        try
        {
            // Kestrel lets headers up to twice the configured limits through (HeaderLimits) so that this
            // refusal has the route's shape; nothing past here runs for such a request.
            if (HeaderLimits.Check(context.Request.Headers, config.Current.Server.Limits) is { } tooLarge)
            {
                await ErrorWriter.WriteAsync(context, tooLarge, ErrorWriter.ShapeFor(context));
                return;
            }
            await next(context);
        }
        // Once the response has started, let the exception reach Kestrel: it then ends the connection
        // without the final chunk, after sending what was written (HttpContext.Abort() could drop that).
        catch (BadHttpRequestException e) when (!context.Response.HasStarted)
        {
            // A body read elsewhere (admin JSON, forms) that Kestrel refused (over the size limit, broken chunking,
            // too slow): the client's fault, a 4xx, never a 500.
            await ErrorWriter.WriteAsync(context, RequestBody.Unreadable(e), ErrorWriter.ShapeFor(context));
        }
        catch (Exception e) when (!context.Response.HasStarted && (e is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested))
        {
            EdgeLog.Unhandled(logger, e, context.Request.Path);
            var shape = ErrorWriter.ShapeFor(context);
            var error = e as GatewayException ?? StoreFailures.AsUnavailable(e) ?? TraceStoreFailures.AsUnavailable(e) ?? new GatewayException(ErrorKind.Internal, "Internal error.");
            await ErrorWriter.WriteAsync(context, error, shape);
        }
    }
}
