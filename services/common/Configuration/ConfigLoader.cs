using Gateway.Common.Security;

namespace Gateway.Common.Configuration;

public static class ConfigLoader
{
    // Loads and validates; throws ConfigException listing every problem with its key path.
    public static GatewayConfig Load(string path, Func<string, string?>? environment = null)
    {
        string yaml;
        try
        {
            yaml = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException([new ConfigError("", $"cannot read the configuration file '{path}': {e.Message}")]);
        }
        return Parse(yaml, environment);
    }

    public static GatewayConfig Parse(string yaml, Func<string, string?>? environment = null)
    {
        var binder = new YamlBinder(environment ?? Environment.GetEnvironmentVariable);
        var config = binder.Bind<GatewayConfig>(yaml);
        var errors = binder.Errors.ToList();
        if (errors.Count == 0)
        {
            ConfigValidator.Validate(config, errors);
        }
        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }
        // Keep only the hash of inline keys: the plaintext goes no further than this method.
        return config with
        {
            Keys = config.Keys.Select(k => k.Key is null ? k : k with { Sha256 = ApiKeyHasher.HashHex(k.Key), Key = null }).ToList(),
        };
    }
}
