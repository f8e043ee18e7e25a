namespace Gateway.Edge;

internal static partial class EdgeLog
{
    [LoggerMessage(1, LogLevel.Information, "Gateway ready, listening on {Addresses}")]
    public static partial void Listening(ILogger logger, string addresses);
}
