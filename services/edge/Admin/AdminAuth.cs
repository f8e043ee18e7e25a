using System.Security.Cryptography;
using System.Text;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Edge.Http;

namespace Gateway.Edge.Admin;

// `Authorization: Bearer <server.admin_key>` for /admin/v1/*. Both sides are hashed first and compared in
// constant time, so neither the key's content nor its length leaks through timing. No admin_key = the admin
// API is off (404, as if it did not exist).
internal static class AdminAuth
{
    public static GatewayException? Check(HttpContext context, GatewayConfig config)
    {
        if (config.Server.AdminKey is not { Length: > 0 } adminKey)
        {
            return new GatewayException(ErrorKind.NotFound, "The admin API is off: set server.admin_key to turn it on.", code: "unknown_route");
        }
        var presented = GatewayHeaders.BearerKey(context.Request);
        if (presented is null)
        {
            return new GatewayException(ErrorKind.Authentication, "Missing admin key. Send 'Authorization: Bearer <server.admin_key>'.");
        }
        Span<byte> expected = stackalloc byte[32];
        Span<byte> actual = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(adminKey), expected);
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), actual);
        return CryptographicOperations.FixedTimeEquals(expected, actual)
            ? null
            : new GatewayException(ErrorKind.Authentication, "Incorrect admin key.");
    }
}
