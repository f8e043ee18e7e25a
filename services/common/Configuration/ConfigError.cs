namespace Gateway.Common.Configuration;

// One problem in the configuration: where (a key path such as `models.gpt-4o.targets[0].provider`, and the
// line when known) and what to do about it. Messages never contain a value that came from the environment.
public sealed record ConfigError(string Path, string Message, int Line = 0)
{
    public override string ToString()
        => Path.Length == 0 ? $"(root): {Message}" : Line > 0 ? $"{Path} (line {Line}): {Message}" : $"{Path}: {Message}";
}

public sealed class ConfigException(IReadOnlyList<ConfigError> errors)
    : Exception($"Invalid configuration ({errors.Count} {(errors.Count == 1 ? "problem" : "problems")}):" + Environment.NewLine
        + string.Join(Environment.NewLine, errors.Select(e => "  - " + e)))
{
    public IReadOnlyList<ConfigError> Errors { get; } = errors;
}
