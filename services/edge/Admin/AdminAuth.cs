using System.Security.Cryptography;
using System.Text;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Edge.Http;

namespace Gateway.Edge.Admin;

// The admin credential: `Authorization: Bearer <server.admin_key>`, compared in constant time (as SHA-256
// digests, so neither the length nor a prefix of the key leaks through timing). Refusals use the OpenAI error
// shape. With no admin_key configured the admin API is off.
public static class AdminAuth
{
    public static TBuilder RequireAdmin<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
        => builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            GatewayHeaders.AssignRequestId(http);
            var configured = http.RequestServices.GetRequiredService<ConfigMonitor>().Current.Server.AdminKey;
            if (string.IsNullOrEmpty(configured))
            {
                await ErrorWriter.WriteAsync(http, new GatewayException(ErrorKind.NotFound,
                    "The admin API is disabled: set server.admin_key to enable it.", code: "admin_disabled"), ErrorShape.OpenAi);
                return Results.Empty;
            }
            var presented = GatewayHeaders.BearerKey(http.Request);
            if (!Matches(presented, configured))
            {
                await ErrorWriter.WriteAsync(http, new GatewayException(ErrorKind.Authentication, string.IsNullOrEmpty(presented)
                    ? "Missing admin key. Send it as 'Authorization: Bearer <server.admin_key>'."
                    : "Incorrect admin key provided.", code: "invalid_admin_key"), ErrorShape.OpenAi);
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
