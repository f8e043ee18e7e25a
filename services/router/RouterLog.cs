using Microsoft.Extensions.Logging;

namespace Gateway.Router;

internal static partial class RouterLog
{
    [LoggerMessage(1, LogLevel.Warning, "Request {RequestId}: attempt on {Provider}/{Model} failed ({ErrorClass}); trying the next deployment")]
    public static partial void AttemptFailed(ILogger logger, string requestId, string provider, string model, string errorClass);

    [LoggerMessage(2, LogLevel.Debug, "Request {RequestId} {Api} {Model} -> {Status} in {TotalMs:0.0} ms via {Provider}")]
    public static partial void RequestCompleted(ILogger logger, string requestId, string api, string model, string status, double totalMs, string provider);

    [LoggerMessage(3, LogLevel.Error, "Request {RequestId} failed unexpectedly")]
    public static partial void RequestCrashed(ILogger logger, Exception exception, string requestId);

    [LoggerMessage(4, LogLevel.Error, "Could not publish the trace of request {RequestId}")]
    public static partial void TracePublishFailed(ILogger logger, Exception exception, string requestId);

    [LoggerMessage(30, LogLevel.Warning, "Request {RequestId}: the circuit of {Provider}/{Model} is open; skipping it")]
    public static partial void CircuitOpen(ILogger logger, string requestId, string provider, string model);
    [LoggerMessage(5, LogLevel.Error, "Request {RequestId}: the guard failed (fail closed: {FailClosed})")]
    public static partial void GuardFailed(ILogger logger, Exception exception, string requestId, bool failClosed);
}
