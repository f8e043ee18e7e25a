using Microsoft.Extensions.Logging;

namespace Gateway.Common;

internal static partial class CommonLog
{
    [LoggerMessage(1, LogLevel.Information, "Configuration reloaded from {Path}")]
    public static partial void ConfigReloaded(ILogger logger, string path);

    [LoggerMessage(2, LogLevel.Error, "Configuration change in {Path} rejected; the previous configuration stays in force. {Errors}")]
    public static partial void ConfigReloadRejected(ILogger logger, string path, string errors);

    [LoggerMessage(3, LogLevel.Error, "Event handler for topic {Topic} failed")]
    public static partial void EventHandlerFailed(ILogger logger, Exception exception, string topic);
}
