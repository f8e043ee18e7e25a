namespace Gateway.Common.Configuration;

// Checks of the `prompts:` section.
internal sealed partial class ConfigValidator
{
    private void ValidatePrompts()
    {
        var prompts = config.Prompts;
        if (prompts.SyncDir is not null && string.IsNullOrWhiteSpace(prompts.SyncDir))
        {
            Error("prompts.sync_dir", "must name a folder of prompt files, e.g. ./prompts, or be left out");
        }
        for (var i = 0; i < prompts.ProtectedLabels.Count; i++)
        {
            if (!ConfigNames.IsName(prompts.ProtectedLabels[i]) || prompts.ProtectedLabels[i] == "latest")
            {
                Error($"prompts.protected_labels[{i}]", $"'{prompts.ProtectedLabels[i]}' is not a label name; use {ConfigNames.NameRule} ('latest' is implicit)");
            }
        }
        if (!ConfigNames.IsName(prompts.EditorRole))
        {
            Error("prompts.editor_role", $"must be a role name ({ConfigNames.NameRule}), default prompt-editor");
        }
        if (prompts.RefreshMilliseconds is < 50 or > 60_000)
        {
            Error("prompts.refresh_milliseconds", "must be between 50 and 60000 (default 250); label moves on another replica show up within this time");
        }
        if (prompts.MinSamplesPerArm is < 2 or > 10_000_000)
        {
            Error("prompts.min_samples_per_arm", "must be between 2 and 10000000 (default 100)");
        }
    }
}
