namespace Gateway.Prompts;

internal static partial class PromptsLog
{
    [LoggerMessage(1, LogLevel.Information, "Prompt {Name} version {Version} created by {Author}")]
    public static partial void VersionCreated(ILogger logger, string name, int version, string author);

    [LoggerMessage(2, LogLevel.Information, "Prompt {Name} label {Label} moved from version {From} to {To} by {Actor}")]
    public static partial void LabelMoved(ILogger logger, string name, string label, int from, int to, string actor);

    [LoggerMessage(3, LogLevel.Warning, "Publishing the change of prompt {Name} failed; other replicas pick it up from the store's change counter")]
    public static partial void PublishFailed(ILogger logger, Exception exception, string name);

    [LoggerMessage(4, LogLevel.Warning, "Reading the prompt store's change counter failed; cached labels are kept until it answers again")]
    public static partial void RefreshFailed(ILogger logger, Exception exception);

    [LoggerMessage(5, LogLevel.Information, "Prompt files in {Directory} synced: {Created} new versions, {Moved} labels moved, {Unchanged} unchanged")]
    public static partial void Synced(ILogger logger, string directory, int created, int moved, int unchanged);
}
