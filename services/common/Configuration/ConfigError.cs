namespace Gateway.Common.Configuration;

// One problem in the configuration: where (a key path such as `models.gpt-4o.targets[0].provider`) and what to do.
public sealed record ConfigError(string Path, string Message)
{
    public override string ToString() => $"{(Path.Length == 0 ? "(root)" : Path)}: {Message}";
}

public sealed class ConfigException(IReadOnlyList<ConfigError> errors)
    : Exception("Invalid configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  - " + e)))
{
    public IReadOnlyList<ConfigError> Errors { get; } = errors;
}
