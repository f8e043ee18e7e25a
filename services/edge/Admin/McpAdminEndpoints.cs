using System.Text.Json;
using System.Text.Json.Serialization;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Edge.Http;
using Gateway.Mcp.Audit;
using Gateway.Mcp.Catalog;
using Gateway.Mcp.Upstreams;
using Gateway.Router.Providers;
using Gateway.Traces.Storage;

namespace Gateway.Edge.Admin;

// Admin API of the MCP gateway: upstream servers (health and catalogue; register one at runtime; approve a
// changed tool definition) and the audit log of tool calls. Admin credential and errors as on every /admin route.
public static class McpAdminEndpoints
{
    private const int MaxAuditLimit = 1000;
    private const int MaxServerNameLength = 128;

    public static IEndpointRouteBuilder MapMcpAdmin(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/admin/v1/mcp").RequireAdmin();
        group.MapGet("/servers", (UpstreamRegistry upstreams, ToolCatalog catalog) => Results.Json(
            new McpServerList([.. upstreams.Servers.Select(s => Describe(s, catalog))]), McpAdminJson.Default.McpServerList));
        group.MapPost("/servers", (HttpContext context, UpstreamRegistry upstreams, ToolCatalog catalog, ConfigMonitor config)
            => RunAsync(() => RegisterAsync(context, upstreams, catalog, config.Current)));
        group.MapDelete("/servers/{name}", (string name, UpstreamRegistry upstreams) => RunAsync(async () =>
        {
            Find(upstreams, name);
            return await upstreams.UnregisterAsync(name, CancellationToken.None)
                ? Results.NoContent()
                : throw new GatewayException(ErrorKind.Conflict, $"MCP server '{name}' comes from the configuration file; remove it there.", "name", "mcp_server_from_configuration");
        }));
        group.MapPost("/servers/{name}/refresh", (string name, UpstreamRegistry upstreams, ToolCatalog catalog, CancellationToken cancellationToken) => RunAsync(async () =>
        {
            var server = Find(upstreams, name);
            await server.RefreshAsync(cancellationToken);
            return Results.Json(Describe(server, catalog), McpAdminJson.Default.McpServerView);
        }));
        group.MapPost("/servers/{name}/approve", (string name, string? tool, UpstreamRegistry upstreams, ToolCatalog catalog, CancellationToken cancellationToken) => RunAsync(async () =>
        {
            var server = Find(upstreams, name);
            var approved = await catalog.ApproveAsync(name, tool, "admin", cancellationToken);
            return approved == 0 && tool is not null
                ? throw new GatewayException(ErrorKind.NotFound, $"MCP server '{name}' has no tool '{tool}'.", "tool", "mcp_tool_not_found")
                : Results.Json(Describe(server, catalog), McpAdminJson.Default.McpServerView);
        }));
        group.MapGet("/audit", (string? principal, string? server, string? tool, string? outcome, string? since, string? until, string? limit,
            IMcpAuditStore audit, CancellationToken cancellationToken) => RunAsync(async () =>
        {
            // Query values are parsed here, not bound by the framework, so a bad one gets an error body that names it.
            var filter = new McpAuditFilter
            {
                Principal = principal,
                Server = server,
                Tool = tool,
                Outcome = outcome,
                Since = Time(since, "since"),
                Until = Time(until, "until"),
                Limit = 100,
            };
            if (limit is not null)
            {
                filter = filter with
                {
                    Limit = int.TryParse(limit, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var rows) && rows is >= 1 and <= MaxAuditLimit
                        ? rows
                        : throw InvalidParameter($"limit must be a whole number from 1 to {MaxAuditLimit}.", "limit"),
                };
            }
            var calls = await audit.QueryAuditAsync(filter, cancellationToken);
            return Results.Json(new McpAuditPage([.. calls.Select(McpAuditSink.FromEvent)]), McpAdminJson.Default.McpAuditPage);
        }));
        return endpoints;
    }

    // Runs an operation; a refusal becomes the admin API's error (the OpenAI shape, as on every /admin route).
    private static async Task<IResult> RunAsync(Func<Task<IResult>> operation)
    {
        try
        {
            return await operation();
        }
        catch (GatewayException e)
        {
            return new AdminError(e);
        }
    }

    private sealed class AdminError(GatewayException error) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext) => ErrorWriter.WriteAsync(httpContext, error, ErrorShape.OpenAi);
    }

    private static UpstreamConnection Find(UpstreamRegistry upstreams, string name)
        => upstreams.Find(name) ?? throw new GatewayException(ErrorKind.NotFound, $"No MCP server named '{name}'.", "name", "mcp_server_not_found");

    private static async Task<IResult> RegisterAsync(HttpContext context, UpstreamRegistry upstreams, ToolCatalog catalog, GatewayConfig config)
    {
        // Read within the body limits like every other route; each field is checked for its type, by name.
        using var body = await RequestBody.ReadJsonAsync(context, config);
        var root = body.RootElement.ValueKind == JsonValueKind.Object
            ? body.RootElement
            : throw GatewayException.BadRequest("Expected a JSON object: {\"name\", \"transport\", \"url\" | \"command\", \"args\", \"env\", \"headers\", \"timeout_seconds\"}.", "body", "invalid_type");
        var name = JsonRead.RequireString(root, "name", "name");
        if (name.Length > MaxServerNameLength)
        {
            throw GatewayException.BadRequest($"name: at most {MaxServerNameLength} characters.", "name", "invalid_value");
        }
        var server = new McpServerConfig
        {
            Transport = JsonRead.String(root, "transport", "transport") ?? "",
            Url = JsonRead.String(root, "url", "url"),
            Command = JsonRead.String(root, "command", "command"),
            Args = JsonRead.TryGet(root, "args", out var args) ? [.. JsonRead.Array(args, "args").Select((a, i) => StringValue(a, $"args[{i}]"))] : [],
            Env = StringMap(root, "env", StringComparer.Ordinal),
            Headers = StringMap(root, "headers", StringComparer.OrdinalIgnoreCase),
            TimeoutSeconds = JsonRead.Number(root, "timeout_seconds", "timeout_seconds", double.MinValue, double.MaxValue),
        };
        if (ConfigLoader.ValidateMcpServer(name, server) is { Count: > 0 } errors)
        {
            // Paths come back as mcp.servers.NAME.FIELD; the client knows the fields by their own names.
            var prefix = $"mcp.servers.{name}";
            string Field(string path) => path.StartsWith(prefix + ".", StringComparison.Ordinal) ? path[(prefix.Length + 1)..] : path == prefix ? "name" : path;
            throw GatewayException.BadRequest(string.Join("; ", errors.Select(e => $"{Field(e.Path)}: {e.Message}")), Field(errors[0].Path), "invalid_value");
        }
        var connection = await upstreams.RegisterAsync(name, server, context.RequestAborted)
            ?? throw new GatewayException(ErrorKind.Conflict, $"An MCP server named '{name}' is already registered.", "name", "mcp_server_exists");
        return Results.Json(Describe(connection, catalog), McpAdminJson.Default.McpServerView, statusCode: 201);
    }

    private static string StringValue(JsonElement value, string path)
        => value.ValueKind == JsonValueKind.String ? value.GetString()! : throw JsonRead.WrongType(path, "a string", value);

    private static Dictionary<string, string> StringMap(JsonElement root, string name, StringComparer comparer)
    {
        var map = new Dictionary<string, string>(comparer);
        if (!JsonRead.TryGet(root, name, out var value))
        {
            return map;
        }
        foreach (var property in JsonRead.RequireObject(value, name).EnumerateObject())
        {
            map[property.Name] = StringValue(property.Value, $"{name}.{property.Name}");
        }
        return map;
    }

    private static DateTimeOffset? Time(string? text, string param)
        => text is null ? null
            : DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var parsed) ? parsed
            : throw InvalidParameter($"{param} must be an ISO 8601 time, e.g. 2026-11-27T10:00:00Z.", param);

    private static GatewayException InvalidParameter(string message, string param) => GatewayException.BadRequest(message, param, "invalid_parameter");

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

public sealed record McpServerList(List<McpServerView> Servers);

public sealed record McpServerView(
    string Name, string Transport, string State, string? LastError, int Restarts, string? ServerName, string? ServerVersion,
    DateTimeOffset? ConnectedAt, DateTimeOffset? DiscoveredAt, List<McpToolView> Tools, List<string> Prompts, List<string> Resources);

public sealed record McpToolView(string Name, string UpstreamName, string Capability, string Status, bool Blocked, string Fingerprint, string? ApprovedFingerprint, List<string> Findings);

public sealed record McpAuditPage(List<McpAuditRecord> Calls);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(McpServerList))]
[JsonSerializable(typeof(McpServerView))]
[JsonSerializable(typeof(McpAuditPage))]
internal sealed partial class McpAdminJson : JsonSerializerContext;
