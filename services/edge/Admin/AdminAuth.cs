using System.Security.Cryptography;
using System.Text;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Edge.Http;

namespace Gateway.Edge.Admin;

// The admin credential: `Authorization: Bearer <server.admin_key>`, compared in constant time (as SHA-256
// digests, so neither the length nor a prefix of the key leaks through timing). Refusals use the OpenAI error
// shape. With no admin_key configured the admin API is off (404, as if it did not exist).
public static class AdminAuth
{
    // For endpoints that check inline: null when the caller is the admin, else the error to send.
    public static GatewayException? Check(HttpContext context, GatewayConfig config)
    {
        if (config.Server.AdminKey is not { Length: > 0 } configured)
        {
            return new GatewayException(ErrorKind.NotFound, "The admin API is disabled: set server.admin_key to enable it.", code: "admin_disabled");
        }
        var presented = GatewayHeaders.BearerKey(context.Request);
        if (!Matches(presented, configured))
        {
            return new GatewayException(ErrorKind.Authentication, string.IsNullOrEmpty(presented)
                ? "Missing admin key. Send it as 'Authorization: Bearer <server.admin_key>'."
                : "Incorrect admin key provided.", code: "invalid_admin_key");
        }
        return null;
    }

    // For minimal-API endpoints: `.RequireAdmin()`.
    public static TBuilder RequireAdmin<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
        => builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            GatewayHeaders.AssignRequestId(http);
            if (Check(http, http.RequestServices.GetRequiredService<ConfigMonitor>().Current) is { } denied)
            {
                await ErrorWriter.WriteAsync(http, denied, ErrorShape.OpenAi);
                return Results.Empty;
            }
            return await next(context);
        });

    public static bool Matches(string? presented, string configured)
    {
        if (string.IsNullOrEmpty(presented))
        {
            return false;
        }
        Span<byte> a = stackalloc byte[32];
        Span<byte> b = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), a);
        SHA256.HashData(Encoding.UTF8.GetBytes(configured), b);
        return CryptographicOperations.FixedTimeEquals(a, b);
    }
}
