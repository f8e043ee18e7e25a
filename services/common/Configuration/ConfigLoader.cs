using Gateway.Common.Security;

namespace Gateway.Common.Configuration;

public static class ConfigLoader
{
    // Loads and validates; throws ConfigException listing every problem with its key path.
    public static GatewayConfig Load(string path, Func<string, string?>? environment = null)
        => Parse(Read(path), environment);

    public static GatewayConfig Parse(string yaml, Func<string, string?>? environment = null)
    {
        var binder = new YamlBinder(environment ?? Environment.GetEnvironmentVariable);
        var config = binder.Bind<GatewayConfig>(yaml);
        // Semantic checks run even when binding failed, so one pass reports every problem. A spot the binder
        // already reported (or its parent or child) is not reported a second time.
        var errors = binder.Errors
            .Concat(new ConfigValidator(config, binder.Substituted).Validate().Where(e => !binder.Errors.Any(b => Overlap(b.Path, e.Path))))
            .Select(e => e.Line > 0 ? e : e with { Line = binder.LineOf(e.Path) })
            .ToList();
        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }
        // Keep only the hash of inline keys: the plaintext goes no further than this method.
        return config with
        {
            Keys = config.Keys.Select(k => k with { Sha256 = k.Sha256?.ToLowerInvariant() ?? ApiKeyHasher.HashHex(k.Key!), Key = null }).ToList(),
        };
    }

    // Validates an MCP server registered through the admin API with the same rules as the file.
    public static IReadOnlyList<ConfigError> ValidateMcpServer(string name, McpServerConfig server) => ConfigValidator.ValidateRuntimeMcpServer(name, server);

    internal static string Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException([new ConfigError("", $"cannot read the configuration file '{path}' ({e.Message}); check the path given to --config and its permissions")]);
        }
    }

    private static bool Overlap(string a, string b) => a == b || Under(a, b) || Under(b, a);

    private static bool Under(string path, string parent)
        => parent.Length == 0 || (path.Length > parent.Length && path.StartsWith(parent, StringComparison.Ordinal) && path[parent.Length] is '.' or '[');
}
