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

    [LoggerMessage(40, LogLevel.Warning, "Dropped an event on topic {Topic}: not a CloudEvent with an id and a readable payload")]
    public static partial void EventDropped(ILogger logger, string topic);

    [LoggerMessage(41, LogLevel.Warning, "Could not publish event {EventType}")]
    public static partial void EventPublishFailed(ILogger logger, Exception exception, string eventType);

    [LoggerMessage(10, LogLevel.Warning, "Configuration change in {Path} touches {Sections}, which are read at start; restart the gateway to apply that part")]
    public static partial void ConfigNeedsRestart(ILogger logger, string path, string sections);

    [LoggerMessage(11, LogLevel.Error, "Reloading the configuration from {Path} failed")]
    public static partial void ConfigReloadFailed(ILogger logger, Exception exception, string path);
}
