using System.Text.Json.Serialization;
using Gateway.Common.Configuration;
using Gateway.Mcp.Audit;
using Gateway.Mcp.Catalog;
using Gateway.Mcp.Upstreams;
using Gateway.Traces.Storage;

namespace Gateway.Edge.Admin;

// Admin API of the MCP gateway: upstream servers (health and catalogue; register one at runtime; approve a
// changed tool definition) and the audit log of tool calls.
public static class McpAdminEndpoints
{
    public static IEndpointRouteBuilder MapMcpAdmin(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/admin/v1/mcp").AddEndpointFilter(McpAdminAuth.FilterAsync);
        group.MapGet("/servers", (UpstreamRegistry upstreams, ToolCatalog catalog) => Results.Json(
            new McpServerList([.. upstreams.Servers.Select(s => Describe(s, catalog))]), McpAdminJson.Default.McpServerList));
        group.MapPost("/servers", RegisterAsync);
        group.MapDelete("/servers/{name}", async (string name, UpstreamRegistry upstreams, CancellationToken cancellationToken) =>
        {
            if (upstreams.Find(name) is null)
            {
                return NotFound(name);
            }
            return await upstreams.UnregisterAsync(name, cancellationToken)
                ? Results.NoContent()
                : Results.Json(new McpAdminError($"MCP server '{name}' comes from the configuration file; remove it there."), McpAdminJson.Default.McpAdminError, statusCode: 409);
        });
        group.MapPost("/servers/{name}/refresh", async (string name, UpstreamRegistry upstreams, ToolCatalog catalog, CancellationToken cancellationToken) =>
        {
            if (upstreams.Find(name) is not { } server)
            {
                return NotFound(name);
            }
            await server.RefreshAsync(cancellationToken);
            return Results.Json(Describe(server, catalog), McpAdminJson.Default.McpServerView);
        });
        group.MapPost("/servers/{name}/approve", async (string name, string? tool, UpstreamRegistry upstreams, ToolCatalog catalog, CancellationToken cancellationToken) =>
        {
            if (upstreams.Find(name) is not { } server)
            {
                return NotFound(name);
            }
            var approved = await catalog.ApproveAsync(name, tool, "admin", cancellationToken);
            return approved == 0 && tool is not null
                ? Results.Json(new McpAdminError($"MCP server '{name}' has no tool '{tool}'."), McpAdminJson.Default.McpAdminError, statusCode: 404)
                : Results.Json(Describe(server, catalog), McpAdminJson.Default.McpServerView);
        });
        group.MapGet("/audit", async (string? principal, string? server, string? tool, string? outcome, string? since, string? until, string? limit,
            IMcpAuditStore audit, CancellationToken cancellationToken) =>
        {
            // Query values are parsed here, not bound by the framework, so a bad one gets an error body that names it.
            if (!TryTime(since, out var from) || !TryTime(until, out var to))
            {
                return BadRequest("since and until must be ISO 8601 times, e.g. 2026-11-27T10:00:00Z.");
            }
            var rowLimit = 100;
            if (limit is not null && (!int.TryParse(limit, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out rowLimit) || rowLimit is < 1 or > MaxAuditLimit))
            {
                return BadRequest($"limit must be a whole number from 1 to {MaxAuditLimit}.");
            }
            var rows = await audit.QueryAuditAsync(new McpAuditFilter { Principal = principal, Server = server, Tool = tool, Outcome = outcome, Since = from, Until = to, Limit = rowLimit }, cancellationToken);
            return Results.Json(new McpAuditPage([.. rows.Select(McpAuditSink.FromEvent)]), McpAdminJson.Default.McpAuditPage);
        });
        return endpoints;
    }

    private static async Task<IResult> RegisterAsync(HttpRequest request, UpstreamRegistry upstreams, ToolCatalog catalog, CancellationToken cancellationToken)
    {
        McpServerRegistration? body;
        try
        {
            body = await System.Text.Json.JsonSerializer.DeserializeAsync(request.Body, McpAdminJson.Default.McpServerRegistration, cancellationToken);
        }
        catch (System.Text.Json.JsonException)
        {
            body = null;
        }
        if (body is null)
        {
            return Results.Json(new McpAdminError("Expected a JSON object: {\"name\", \"transport\", \"url\" | \"command\", \"args\", \"env\", \"headers\"}."), McpAdminJson.Default.McpAdminError, statusCode: 400);
        }
        if (body.Name is { Length: > MaxServerNameLength })
        {
            return BadRequest($"name: at most {MaxServerNameLength} characters.");
        }
        var server = new McpServerConfig
        {
            Transport = body.Transport ?? "",
            Url = body.Url,
            Command = body.Command,
            Args = body.Args ?? [],
            Env = body.Env ?? new Dictionary<string, string>(StringComparer.Ordinal),
            Headers = body.Headers ?? new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase),
            TimeoutSeconds = body.TimeoutSeconds,
        };
        var errors = ConfigLoader.ValidateMcpServer(body.Name ?? "", server);
        if (errors.Count > 0)
        {
            return Results.Json(new McpAdminError(string.Join("; ", errors.Select(e => $"{e.Path}: {e.Message}"))), McpAdminJson.Default.McpAdminError, statusCode: 400);
        }
        var connection = await upstreams.RegisterAsync(body.Name!, server, cancellationToken);
        return connection is null
            ? Results.Json(new McpAdminError($"An MCP server named '{body.Name}' is already registered."), McpAdminJson.Default.McpAdminError, statusCode: 409)
            : Results.Json(Describe(connection, catalog), McpAdminJson.Default.McpServerView, statusCode: 201);
    }

    private const int MaxAuditLimit = 1000;
    private const int MaxServerNameLength = 128;

    private static bool TryTime(string? text, out DateTimeOffset? time)
    {
        time = null;
        if (text is null)
        {
            return true;
        }
        if (DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var parsed))
        {
            time = parsed;
            return true;
        }
        return false;
    }

    private static IResult BadRequest(string message)
        => Results.Json(new McpAdminError(message), McpAdminJson.Default.McpAdminError, statusCode: 400);

    private static IResult NotFound(string name)
        => Results.Json(new McpAdminError($"No MCP server named '{name}'."), McpAdminJson.Default.McpAdminError, statusCode: 404);

    private static McpServerView Describe(UpstreamConnection server, ToolCatalog catalog) => new(
        server.Name,
        server.Config.Transport,
        server.State.ToString().ToLowerInvariant(),
        server.LastError,
        server.Restarts,
        server.ServerName,
        server.ServerVersion,
        server.ConnectedAt,
        server.DiscoveredAt,
        [.. catalog.ToolsOf(server.Name).Values.OrderBy(t => t.ExposedName, StringComparer.Ordinal).Select(t => new McpToolView(
            t.ExposedName, t.UpstreamName, t.Capability, t.Status.ToString().ToLowerInvariant(), t.Blocked, t.Fingerprint, t.ApprovedFingerprint, [.. t.Findings]))],
        [.. server.Prompts.Select(p => p.Name)],
        [.. server.Resources.Select(r => r.Uri)]);
}

// Authorization: Bearer <server.admin_key>, compared in constant time; no admin key configured = API off.
internal static class McpAdminAuth
{
    public static async ValueTask<object?> FilterAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var adminKey = http.RequestServices.GetRequiredService<ConfigMonitor>().Current.Server.AdminKey;
        var header = http.Request.Headers.Authorization.ToString();
        var presented = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : "";
        if (string.IsNullOrEmpty(adminKey) || !AdminAuth.Matches(presented, adminKey))
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
            return Results.Json(new McpAdminError("Admin API: send Authorization: Bearer <server.admin_key>."), McpAdminJson.Default.McpAdminError, statusCode: 401);
        }
        return await next(context);
    }
}

public sealed record McpServerRegistration(
    string? Name, string? Transport, string? Url, string? Command, List<string>? Args,
    Dictionary<string, string>? Env, Dictionary<string, string>? Headers, double? TimeoutSeconds);

public sealed record McpServerList(List<McpServerView> Servers);

public sealed record McpServerView(
    string Name, string Transport, string State, string? LastError, int Restarts, string? ServerName, string? ServerVersion,
    DateTimeOffset? ConnectedAt, DateTimeOffset? DiscoveredAt, List<McpToolView> Tools, List<string> Prompts, List<string> Resources);

public sealed record McpToolView(string Name, string UpstreamName, string Capability, string Status, bool Blocked, string Fingerprint, string? ApprovedFingerprint, List<string> Findings);

public sealed record McpAuditPage(List<McpAuditRecord> Calls);

public sealed record McpAdminError(string Error);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(McpServerList))]
[JsonSerializable(typeof(McpServerView))]
[JsonSerializable(typeof(McpAuditPage))]
[JsonSerializable(typeof(McpAdminError))]
[JsonSerializable(typeof(McpServerRegistration))]
internal sealed partial class McpAdminJson : JsonSerializerContext;
