using Microsoft.Extensions.Logging;

namespace Gateway.Traces;

// Never logs trace contents: store errors can quote rows, so only their type and code are logged.
internal static partial class TracesLog
{
    [LoggerMessage(1, LogLevel.Warning, "Trace store unavailable ({Error}); {Pending} traces waiting, retrying in {DelayMs} ms")]
    public static partial void StoreUnavailable(ILogger logger, string error, long pending, long delayMs);

    [LoggerMessage(2, LogLevel.Information, "Trace store back; writing {Pending} waiting traces")]
    public static partial void StoreRecovered(ILogger logger, long pending);

    [LoggerMessage(3, LogLevel.Information, "Replaying {Count} traces from spool file {File}")]
    public static partial void ReplayingSpool(ILogger logger, int count, string file);

    [LoggerMessage(4, LogLevel.Error, "A batch of {Count} traces was refused by the store {Attempts} times ({Error}); moved to {File} for inspection")]
    public static partial void DeadLettered(ILogger logger, int count, int attempts, string error, string file);

    [LoggerMessage(5, LogLevel.Information, "Trace store schema is current ({Store})")]
    public static partial void Migrated(ILogger logger, string store);

    [LoggerMessage(6, LogLevel.Warning, "Traces spilled to disk: {Count} in {Directory} (memory limit {Limit} reached)")]
    public static partial void Spilled(ILogger logger, long count, string directory, int limit);
}
