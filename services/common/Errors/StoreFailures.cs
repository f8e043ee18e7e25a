using Microsoft.Data.Sqlite;
using Npgsql;

namespace Gateway.Common.Errors;

// A database the gateway depends on being away (PostgreSQL unreachable, the SQLite file locked by another
// process) is the infrastructure failing, not the gateway: 503 with a retry hint, never a 500 (or a 401).
public static class StoreFailures
{
    public static GatewayException? AsUnavailable(Exception exception) => exception switch
    {
        NpgsqlException { IsTransient: true } or TimeoutException or System.Net.Sockets.SocketException
            or SqliteException { SqliteErrorCode: 5 or 6 } // SQLITE_BUSY, SQLITE_LOCKED
            => new GatewayException(ErrorKind.Unavailable, "A database the gateway needs is unreachable right now; try again shortly.", code: "store_unavailable"),
        _ when exception.InnerException is { } inner => AsUnavailable(inner),
        _ => null,
    };
}
