namespace Gateway.Edge;

internal static partial class EdgeLog
{
    [LoggerMessage(1, LogLevel.Information, "Gateway ready, listening on {Addresses}")]
    public static partial void Listening(ILogger logger, string addresses);

    [LoggerMessage(2, LogLevel.Error, "Unhandled error on {Path}")]
    public static partial void Unhandled(ILogger logger, Exception exception, string path);

    [LoggerMessage(3, LogLevel.Error, "Response {ResponseId} was served but could not be stored")]
    public static partial void ResponseNotStored(ILogger logger, Exception exception, string responseId);
}
