using System.Net;
using System.Security.Claims;
using System.Text.Json;
using Gateway.Common.Configuration;
using Gateway.Common.Security;
using Gateway.Contracts.Common.V1;
using Microsoft.Extensions.Primitives;

namespace Gateway.Mcp.Http;

// The HTTP front of /mcp: DNS-rebinding defence (Origin and Host), authentication (gateway key or OIDC
// bearer token) and the OAuth protected-resource metadata that a 401 points to.
public static class McpHttpEndpoints
{
    public const string MetadataPath = "/.well-known/oauth-protected-resource";

    public static async Task GuardAsync(HttpContext context, Func<Task> next)
    {
        var config = context.RequestServices.GetRequiredService<ConfigMonitor>().Current;
        if (!HostAllowed(context.Request.Host, config) || !OriginAllowed(context.Request.Headers.Origin, context.Request.Host, config))
        {
            await JsonRpcErrorAsync(context, StatusCodes.Status403Forbidden, "Origin or Host not allowed.");
            return;
        }
        if (context.Request.RouteValues.TryGetValue("virtual", out var name) && name is string virtualName && !config.Mcp.Virtual.ContainsKey(virtualName))
        {
            await JsonRpcErrorAsync(context, StatusCodes.Status404NotFound, "Unknown virtual MCP server.");
            return;
        }
        Principal? principal;
        try
        {
            principal = await AuthenticateAsync(context);
        }
        catch (OidcUnavailableException)
        {
            await JsonRpcErrorAsync(context, StatusCodes.Status503ServiceUnavailable, "The identity provider is unreachable; try again shortly.");
            return;
        }
        if (principal is null)
        {
            context.Response.Headers.WWWAuthenticate = $"Bearer resource_metadata=\"{BaseUrl(context.Request)}{MetadataPath}\"";
            await JsonRpcErrorAsync(context, StatusCodes.Status401Unauthorized, "Authentication required: send a gateway key or an OIDC access token as a Bearer token.");
            return;
        }
        context.User = ToClaims(principal);
        if (HttpMethods.IsPost(context.Request.Method) && await RefuseMalformedAsync(context, config))
        {
            return;
        }
        await next();
    }

    // The MCP SDK reads what it is given; bodies it cannot read (over the size limit, not UTF-8, not JSON, too
    // deep, not a JSON-RPC message) are refused here with a JSON-RPC error, before a session is created or a
    // tool is called. The body is kept, so the SDK reads it again from the start.
    private static async Task<bool> RefuseMalformedAsync(HttpContext context, GatewayConfig config)
    {
        var limit = config.Server.MaxRequestBodyBytes;
        if (context.Request.ContentLength > limit)
        {
            await JsonRpcErrorAsync(context, StatusCodes.Status413PayloadTooLarge, $"The request body exceeds the limit of {limit} bytes.", InvalidRequest);
            return true;
        }
        context.Request.EnableBuffering(bufferThreshold: 64 * 1024, bufferLimit: limit);
        byte[] body;
        try
        {
            using var copy = new MemoryStream();
            await context.Request.Body.CopyToAsync(copy, context.RequestAborted);
            body = copy.ToArray();
        }
        catch (Exception e) when (e is IOException or BadHttpRequestException)
        {
            await JsonRpcErrorAsync(context, StatusCodes.Status413PayloadTooLarge, $"The request body exceeds the limit of {limit} bytes.", InvalidRequest);
            return true;
        }
        context.Request.Body.Position = 0;
        var problem = JsonRpcProblem(body, config.Server.MaxJsonDepth);
        if (problem is null)
        {
            return false;
        }
        await JsonRpcErrorAsync(context, StatusCodes.Status400BadRequest, problem.Value.Message, problem.Value.Code);
        return true;
    }

    private const int ParseError = -32700;
    private const int InvalidRequest = -32600;

    private static (int Code, string Message)? JsonRpcProblem(byte[] body, int maxDepth)
    {
        if (!System.Text.Unicode.Utf8.IsValid(body))
        {
            return (ParseError, "Parse error: the body is not valid UTF-8.");
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = maxDepth });
        }
        catch (JsonException)
        {
            return (ParseError, $"Parse error: the body is not JSON (or is nested more than {maxDepth} levels deep).");
        }
        using (document)
        {
            if (!Gateway.Common.Json.JsonText.EscapesAreValid(body, maxDepth))
            {
                return (ParseError, "Parse error: a \\u escape is a lone surrogate, which is not valid Unicode.");
            }
            var root = document.RootElement;
            var messages = root.ValueKind == JsonValueKind.Array ? [.. root.EnumerateArray()] : new[] { root };
            return messages.Length == 0 || !messages.All(IsMessage)
                ? (InvalidRequest, "Invalid Request: expected a JSON-RPC 2.0 message: {\"jsonrpc\": \"2.0\", \"method\": string, \"params\": object, \"id\": string or number}.")
                : null;
        }
    }

    private static bool IsMessage(JsonElement message)
    {
        if (message.ValueKind != JsonValueKind.Object
            || !message.TryGetProperty("jsonrpc", out var version) || version.ValueKind != JsonValueKind.String || version.GetString() != "2.0")
        {
            return false;
        }
        if (message.TryGetProperty("id", out var id) && id.ValueKind is not (JsonValueKind.String or JsonValueKind.Number))
        {
            return false;
        }
        if (message.TryGetProperty("method", out var method))
        {
            return method.ValueKind == JsonValueKind.String && method.GetString()!.Length is > 0 and <= 256
                && (!message.TryGetProperty("params", out var parameters) || parameters.ValueKind == JsonValueKind.Object);
        }
        // A response to a server request: a result or an error, and the id it answers.
        return id.ValueKind != JsonValueKind.Undefined && (message.TryGetProperty("result", out _) || message.TryGetProperty("error", out _));
    }

    private static async Task<Principal?> AuthenticateAsync(HttpContext context)
    {
        string? token = null;
        if (context.Request.Headers.Authorization.ToString() is { Length: > 7 } header && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            token = header[7..].Trim();
        }
        else if (context.Request.Headers["x-api-key"].ToString() is { Length: > 0 } apiKey)
        {
            token = apiKey;
        }
        if (token is null)
        {
            return null;
        }
        if (context.RequestServices.GetRequiredService<KeyAuthenticator>().Authenticate(token) is { } keyPrincipal)
        {
            return keyPrincipal;
        }
        var oidc = context.RequestServices.GetRequiredService<OidcTokenValidator>();
        return oidc.Enabled && token.Count(c => c == '.') == 2
            ? await oidc.ValidateAsync(token, context.RequestAborted)
            : null;
    }

    public static ClaimsPrincipal ToClaims(Principal principal)
    {
        var claims = new List<Claim>
        {
            // The SDK binds a stateful session to the identity that opened it (NameIdentifier).
            new(ClaimTypes.NameIdentifier, principal.KeyName),
            new(McpClaims.Key, principal.KeyName),
            new(McpClaims.User, principal.User),
            new(McpClaims.Team, principal.Team),
            new(McpClaims.Project, principal.Project),
            new(McpClaims.Environment, principal.Environment),
        };
        claims.AddRange(principal.Roles.Select(r => new Claim(ClaimTypes.Role, r)));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, "gateway"));
    }

    public static async Task MetadataAsync(HttpContext context)
    {
        var config = context.RequestServices.GetRequiredService<ConfigMonitor>().Current;
        var issuer = config.Mcp.Oidc?.Issuer;
        await context.Response.WriteAsJsonAsync(new ProtectedResourceMetadata(
            BaseUrl(context.Request) + "/mcp",
            issuer is null ? [] : [issuer],
            ["header"],
            "AI gateway MCP endpoint"), McpJsonContext.Default.ProtectedResourceMetadata);
    }

    private static string BaseUrl(HttpRequest request) => $"{request.Scheme}://{request.Host}";

    private static bool HostAllowed(HostString host, GatewayConfig config)
    {
        var name = host.Host;
        return IsLoopbackName(name) || config.Mcp.AllowedHosts.Contains(name, StringComparer.OrdinalIgnoreCase)
            || config.Mcp.AllowedHosts.Contains(host.Value ?? "", StringComparer.OrdinalIgnoreCase)
            || (config.Server.Http.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase) && !name.Equals("0.0.0.0", StringComparison.Ordinal));
    }

    // Requests without Origin come from non-browser agents; a browser's Origin must be loopback or listed.
    private static bool OriginAllowed(StringValues origin, HostString host, GatewayConfig config)
    {
        if (StringValues.IsNullOrEmpty(origin))
        {
            return true;
        }
        var value = origin.ToString();
        if (config.Mcp.AllowedOrigins.Contains(value, StringComparer.OrdinalIgnoreCase))
        {
            return true;
        }
        return Uri.TryCreate(value, UriKind.Absolute, out var uri) && IsLoopbackName(uri.Host) && IsLoopbackName(host.Host);
    }

    private static bool IsLoopbackName(string host)
        => host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));

    private static async Task JsonRpcErrorAsync(HttpContext context, int status, string message, int? code = null)
    {
        context.Response.StatusCode = status;
        await context.Response.WriteAsJsonAsync(new JsonRpcErrorBody("2.0", null, new JsonRpcErrorDetail(code ?? (status == 401 ? -32001 : -32000), message)), McpJsonContext.Default.JsonRpcErrorBody);
    }
}

public sealed record ProtectedResourceMetadata(
    [property: System.Text.Json.Serialization.JsonPropertyName("resource")] string Resource,
    [property: System.Text.Json.Serialization.JsonPropertyName("authorization_servers")] string[] AuthorizationServers,
    [property: System.Text.Json.Serialization.JsonPropertyName("bearer_methods_supported")] string[] BearerMethodsSupported,
    [property: System.Text.Json.Serialization.JsonPropertyName("resource_name")] string ResourceName);

public sealed record JsonRpcErrorBody(
    [property: System.Text.Json.Serialization.JsonPropertyName("jsonrpc")] string JsonRpc,
    [property: System.Text.Json.Serialization.JsonPropertyName("id")] string? Id,
    [property: System.Text.Json.Serialization.JsonPropertyName("error")] JsonRpcErrorDetail Error);

public sealed record JsonRpcErrorDetail(
    [property: System.Text.Json.Serialization.JsonPropertyName("code")] int Code,
    [property: System.Text.Json.Serialization.JsonPropertyName("message")] string Message);

[System.Text.Json.Serialization.JsonSerializable(typeof(ProtectedResourceMetadata))]
[System.Text.Json.Serialization.JsonSerializable(typeof(JsonRpcErrorBody))]
internal sealed partial class McpJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
