using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Common.Configuration;
using Gateway.Contracts.Common.V1;
using Gateway.Mcp.Audit;
using Gateway.Mcp.Catalog;
using Gateway.Mcp.Policy;
using Gateway.Mcp.Upstreams;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Gateway.Mcp;

// The governed MCP endpoint: tools/list shows each caller what it may call (through the virtual server's
// view); tools/call is authorized, rate limited, bounded by a timeout, routed to its upstream and audited,
// whatever the outcome.
public sealed partial class McpGateway(
    ToolCatalog catalog,
    UpstreamRegistry upstreams,
    McpPolicy policy,
    McpAuditSink audit,
    McpRedactor redactor,
    McpGuard guard,
    ConfigMonitor config,
    TimeProvider time,
    ILogger<McpGateway> logger)
{
    // JSON-RPC error codes of the gateway (implementation-defined range).
    public const int DeniedCode = -32010;
    public const int RateLimitedCode = -32011;
    public const int TimeoutCode = -32012;
    public const int UnavailableCode = -32013;

    private readonly ConcurrentDictionary<McpServer, byte> _sessions = new();

    public const string VirtualItem = "gateway.virtual";

    public static Principal PrincipalOf(ClaimsPrincipal? user)
    {
        var principal = new Principal
        {
            KeyName = user?.FindFirst(McpClaims.Key)?.Value ?? "",
            User = user?.FindFirst(McpClaims.User)?.Value ?? "",
            Team = user?.FindFirst(McpClaims.Team)?.Value ?? "",
            // Guard policies may be assigned per project or environment, as on the model routes.
            Project = user?.FindFirst(McpClaims.Project)?.Value ?? "",
            Environment = user?.FindFirst(McpClaims.Environment)?.Value ?? "",
        };
        if (user is not null)
        {
            principal.Roles.AddRange(user.FindAll(ClaimTypes.Role).Select(c => c.Value));
        }
        return principal;
    }

    // The tools a virtual server (null: the main /mcp endpoint) shows, under the names it shows them.
    public IEnumerable<(string Name, CatalogTool Tool)> View(string? virtualName)
    {
        if (virtualName is null)
        {
            foreach (var (name, tool) in catalog.Tools)
            {
                yield return (name, tool);
            }
            yield break;
        }
        if (!config.Current.Mcp.Virtual.TryGetValue(virtualName, out var view))
        {
            yield break;
        }
        foreach (var server in view.Servers)
        {
            foreach (var (name, tool) in catalog.ToolsOf(server))
            {
                if (view.Tools.Count == 0 || view.Tools.Any(p => Glob.Matches(p, name)))
                {
                    yield return (view.Prefix ? name : ToolCatalog.Sanitize(tool.UpstreamName), tool);
                }
            }
        }
    }

    public ValueTask<ListToolsResult> ListToolsAsync(string? virtualName, RequestContext<ListToolsRequestParams> context)
    {
        var principal = PrincipalOf(context.User);
        var tools = new List<Tool>();
        foreach (var (name, tool) in View(virtualName))
        {
            if (!tool.Blocked && policy.IsAllowed(principal, tool))
            {
                tools.Add(name == tool.ExposedName ? tool.Definition : ToolCatalog.CopyWithName(tool.Definition, name));
            }
        }
        return ValueTask.FromResult(new ListToolsResult { Tools = tools });
    }

    public async ValueTask<CallToolResult> CallToolAsync(string? virtualName, RequestContext<CallToolRequestParams> context, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var request = context.Params ?? throw new McpProtocolException("Missing params.", McpErrorCode.InvalidParams);
        var principal = PrincipalOf(context.User);
        var tool = View(virtualName).Where(t => t.Name == request.Name).Select(t => t.Tool).FirstOrDefault();
        var record = new McpAuditRecord
        {
            Id = Guid.CreateVersion7(time.GetUtcNow()).ToString("N"),
            Time = time.GetUtcNow(),
            Session = context.Server.SessionId ?? "",
            Principal = principal.KeyName,
            User = principal.User,
            Team = principal.Team,
            Roles = [.. principal.Roles],
            ClientName = context.Server.ClientInfo?.Name ?? "",
            ClientVersion = context.Server.ClientInfo?.Version ?? "",
            Endpoint = virtualName is null ? "/mcp" : "/mcp/" + virtualName,
            Server = tool?.Server ?? "",
            Tool = tool?.ExposedName ?? request.Name,
            // Until the guard has seen them, arguments are not stored (a denied call's may hold anything).
            Arguments = "",
            Justification = MetaString(request.Meta, "justification"),
            ToolCallId = MetaString(request.Meta, "tool_call_id") is { Length: > 0 } id ? id : MetaString(request.Meta, "toolCallId"),
            // The model call that asked for this tool (its x-request-id, sent by the agent), else this request's W3C trace.
            TraceId = MetaString(request.Meta, "request_id") is { Length: > 0 } requestId ? requestId : Activity.Current?.TraceId.ToString() ?? "",
        };
        var guarded = new McpGuardState();
        McpAuditRecord Finish(string outcome, string reason = "", long bytes = 0) => record with
        {
            Outcome = outcome,
            Reason = reason,
            LatencyMs = time.GetElapsedTime(started).TotalMilliseconds,
            ResultBytes = bytes,
            GuardPolicy = guarded.Policy,
            GuardAction = guarded.Action,
            GuardFindings = guarded.Findings,
        };

        // Unknown and not-allowed tools get the same answer, so probing reveals nothing about the catalogue.
        if (tool is null || !policy.IsAllowed(principal, tool))
        {
            await audit.RecordAsync(Finish("denied", tool is null ? "unknown tool" : "no rule grants this tool"));
            throw new McpProtocolException($"Tool '{request.Name}' is not available to this identity.", (McpErrorCode)DeniedCode);
        }
        if (tool.Blocked)
        {
            var reason = tool.Status == ToolStatus.Changed ? "definition changed since approval" : "definition failed the poisoning scan";
            await audit.RecordAsync(Finish("denied", reason));
            throw new McpProtocolException($"Tool '{request.Name}' is blocked: its {reason}; an administrator must approve it.", (McpErrorCode)DeniedCode);
        }
        if (!policy.TryAcquire(principal, tool.ExposedName))
        {
            await audit.RecordAsync(Finish("rate_limited", "per-minute limit reached"));
            throw new McpProtocolException($"Rate limit reached for tool '{request.Name}'; try again in a minute.", (McpErrorCode)RateLimitedCode);
        }
        var upstream = upstreams.Find(tool.Server);
        if (upstream is null)
        {
            await audit.RecordAsync(Finish("error", "server not registered"));
            throw new McpProtocolException($"Tool '{request.Name}' is unavailable.", (McpErrorCode)UnavailableCode);
        }
        IDictionary<string, JsonElement>? arguments;
        try
        {
            arguments = await guard.ArgumentsAsync(principal, request.Name, request.Arguments, guarded, cancellationToken);
        }
        catch (McpProtocolException error)
        {
            await audit.RecordAsync(Finish(McpGuard.Outcome(error), error.Message));
            throw;
        }
        record = record with { Arguments = redactor.Arguments(arguments) };
        var seconds = upstream.Config.TimeoutSeconds ?? config.Current.Mcp.CallTimeoutSeconds;
        CallToolResult result;
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds), time))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token))
        {
            var relay = new RelayTarget(context.Server, request.ProgressToken, tool.Server, logger);
            try
            {
                result = await upstream.CallToolAsync(tool.UpstreamName, arguments, relay, linked.Token);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                await audit.RecordAsync(Finish("timeout", $"no answer within {seconds} s"));
                throw new McpProtocolException($"Tool '{request.Name}' did not answer within {seconds} seconds.", (McpErrorCode)TimeoutCode);
            }
            catch (OperationCanceledException)
            {
                await audit.RecordAsync(Finish("error", "cancelled by the client"));
                throw;
            }
            catch (McpProtocolException error)
            {
                await audit.RecordAsync(Finish("error", $"upstream error {(int)error.ErrorCode}"));
                throw new McpProtocolException(error.Message, error.ErrorCode);
            }
            catch (Exception error) when (error is UpstreamUnavailableException or McpException or IOException or HttpRequestException or InvalidOperationException or ObjectDisposedException)
            {
                await audit.RecordAsync(Finish("error", "upstream unavailable"));
                throw new McpProtocolException($"Tool '{request.Name}' is unavailable right now; the server is restarting.", (McpErrorCode)UnavailableCode);
            }
            finally
            {
                relay.Complete();
            }
        }
        try
        {
            result = await guard.ResultAsync(principal, request.Name, result, guarded, cancellationToken);
        }
        catch (McpProtocolException error)
        {
            await audit.RecordAsync(Finish(McpGuard.Outcome(error), error.Message));
            throw;
        }
        var bytes = JsonSerializer.SerializeToUtf8Bytes(result, McpJsonUtilities.DefaultOptions).LongLength;
        await audit.RecordAsync(Finish(result.IsError == true ? "error" : "ok", result.IsError == true ? "tool returned an error" : "", bytes));
        return result;
    }

    private static string MetaString(JsonObject? meta, string name)
        => meta?[name] is JsonValue value && value.TryGetValue<string>(out var text) ? text[..Math.Min(text.Length, 2000)] : "";

    // Live downstream sessions, told when the catalogue changes.
    public async Task RunSessionAsync(McpServer server, CancellationToken cancellationToken)
    {
        _sessions[server] = 0;
        try
        {
            await server.RunAsync(cancellationToken);
        }
        finally
        {
            _sessions.TryRemove(server, out _);
            if (server.SessionId is { } sessionId)
            {
                await upstreams.CloseSessionAsync(sessionId);
            }
        }
    }

    // After a discovery: tools, prompts and resources may all have changed.
    public void NotifyListsChanged()
    {
        foreach (var session in _sessions.Keys)
        {
            _ = NotifyAsync(session);
        }

        static async Task NotifyAsync(McpServer session)
        {
            try
            {
                await session.SendNotificationAsync(NotificationMethods.ToolListChangedNotification);
                await session.SendNotificationAsync(NotificationMethods.PromptListChangedNotification);
                await session.SendNotificationAsync(NotificationMethods.ResourceListChangedNotification);
            }
            catch (Exception error) when (error is McpException or IOException or InvalidOperationException or ObjectDisposedException or OperationCanceledException)
            {
                // The session is closing.
            }
        }
    }
}

public static class McpClaims
{
    public const string Key = "gateway:key";
    public const string User = "gateway:user";
    public const string Team = "gateway:team";
    public const string Project = "gateway:project";
    public const string Environment = "gateway:environment";
    public const string Kind = "gateway:kind";
}
