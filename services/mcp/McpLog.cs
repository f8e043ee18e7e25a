namespace Gateway.Mcp;

internal static partial class McpLog
{
    [LoggerMessage(1, LogLevel.Information, "MCP upstream {Server} connected ({Tools} tools)")]
    public static partial void Connected(ILogger logger, string server, int tools);

    [LoggerMessage(2, LogLevel.Warning, "MCP upstream {Server} is down; restart {Attempt} in {DelayMs} ms")]
    public static partial void Restarting(ILogger logger, Exception? exception, string server, int attempt, long delayMs);

    [LoggerMessage(3, LogLevel.Warning, "MCP tool {Tool} has injection patterns in its definition: {Findings}")]
    public static partial void Poisoned(ILogger logger, string tool, string findings);

    [LoggerMessage(4, LogLevel.Warning, "MCP tool {Tool} changed its definition since it was approved (rug pull?)")]
    public static partial void DefinitionChanged(ILogger logger, string tool);

    [LoggerMessage(5, LogLevel.Warning, "MCP discovery on {Server} failed")]
    public static partial void DiscoveryFailed(ILogger logger, Exception exception, string server);

    [LoggerMessage(6, LogLevel.Error, "MCP audit write failed; {Count} rows retried")]
    public static partial void AuditWriteFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(7, LogLevel.Warning, "Relaying {Method} from MCP upstream {Server} failed")]
    public static partial void RelayFailed(ILogger logger, Exception exception, string method, string server);

    [LoggerMessage(8, LogLevel.Error, "The guard failed on MCP tool {Tool} (fail closed: {FailClosed})")]
    public static partial void GuardFailed(ILogger logger, Exception exception, string tool, bool failClosed);
}
