namespace Gateway.Common.Configuration;

// Versioned prompts (docs/prompts.md): where prompt files are synced from, which labels only the admin may
// move, and how quickly a replica notices a change another replica made to the shared store.
public sealed record PromptsConfig
{
    // A folder of prompt files (*.yaml) synced into the store at start; unset = no sync at start.
    public string? SyncDir { get; init; }
    // Labels that only the admin credential may move; others may also be moved by a key with editor_role.
    public List<string> ProtectedLabels { get; init; } = ["production"];
    // Keys with this role may create versions and move unprotected labels through /admin/v1/prompts.
    public string EditorRole { get; init; } = "prompt-editor";
    // How often the store's change counter is read, so a label moved by another replica is seen within it.
    public int RefreshMilliseconds { get; init; } = 250;
    // Experiments report a verdict only when every arm has at least this many requests (and feedback scores
    // for the score comparison).
    public int MinSamplesPerArm { get; init; } = 100;
}
