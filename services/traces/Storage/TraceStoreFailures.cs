using ClickHouse.Driver;
using Gateway.Common.Errors;

namespace Gateway.Traces.Storage;

// ClickHouse answering before its tables exist (the traces service, or this process's ingestor, has not run the
// migrations yet: the first moments after a start) is the store not being ready, not the gateway failing: 503.
public static class TraceStoreFailures
{
    private const int UnknownTable = 60;
    private const int UnknownDatabase = 81;

    public static GatewayException? AsUnavailable(Exception exception) => exception switch
    {
        ClickHouseServerException { ErrorCode: UnknownTable or UnknownDatabase }
            => new GatewayException(ErrorKind.Unavailable, "The trace store is not ready yet (its tables are being created); try again shortly.", code: "store_unavailable"),
        _ when exception.InnerException is { } inner => AsUnavailable(inner),
        _ => null,
    };
}
