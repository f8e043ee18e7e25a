using System.Globalization;
using System.Text.Json;
using Gateway.Common.Errors;
using static Gateway.Router.Providers.JsonRead;

namespace Gateway.Router.Providers.Gemini;

// Gemini error bodies are google.rpc.Status: {"error": {"code", "message", "status", "details": [...]}}.
public static class GeminiErrors
{
    public static GatewayException Read(string provider, int status, string body, int? retryAfterSeconds)
    {
        string? message = null, rpcStatus = null, reason = null;
        int? retryDelay = null;
        try
        {
            using var document = JsonDocument.Parse(body);
            var error = OptObject(document.RootElement, "error");
            message = OptString(error, "message");
            rpcStatus = OptString(error, "status");
            foreach (var detail in OptArray(error, "details"))
            {
                reason ??= OptString(detail, "reason");
                retryDelay ??= ParseDuration(OptString(detail, "retryDelay"));
            }
        }
        catch (JsonException)
        {
            // Not JSON (a proxy's HTML page, say): classify by status alone.
        }
        // A bad or missing key comes back as 400 INVALID_ARGUMENT with reason API_KEY_INVALID: it is the
        // gateway's credentials that failed, not the client's request, so another deployment may work.
        if (reason is not null && reason.StartsWith("API_KEY_", StringComparison.Ordinal) || rpcStatus == "UNAUTHENTICATED")
        {
            status = 401;
        }
        // 429 bodies carry google.rpc.RetryInfo; the Retry-After header, when a proxy adds one, wins.
        return ProviderHttp.Classify(provider, status, message, rpcStatus, reason, retryAfterSeconds ?? retryDelay);
    }

    // google.protobuf.Duration in JSON: "37s", "0.5s", "1.000340s".
    internal static int? ParseDuration(string? duration)
        => duration is { Length: > 1 } && duration[^1] == 's'
           && double.TryParse(duration.AsSpan(0, duration.Length - 1), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds)
            ? (int)Math.Ceiling(seconds)
            : null;
}
