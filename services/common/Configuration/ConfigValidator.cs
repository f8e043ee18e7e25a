using Gateway.Common.Security;

using System.Globalization;

namespace Gateway.Common.Configuration;

// Semantic checks after binding: references resolve, URLs are absolute, every key can authenticate.
internal static class ConfigValidator
{
    public static readonly IReadOnlySet<string> ProviderKinds = new HashSet<string>(StringComparer.Ordinal)
    {
        "openai", "azure-openai", "anthropic", "gemini",
    };

    public static void Validate(GatewayConfig config, List<ConfigError> errors)
    {
        ValidateEndpoint(config.Server.Http, "server.http", errors);
        ValidateEndpoint(config.Server.Grpc, "server.grpc", errors);
        if (config.Server.MaxRequestBodyBytes is < 1024 or > 1024L * 1024 * 1024)
        {
            errors.Add(new("server.max_request_body_bytes", "must be between 1024 and 1073741824 bytes"));
        }
        if (config.Server.MaxJsonDepth is < 8 or > 1024)
        {
            errors.Add(new("server.max_json_depth", "must be between 8 and 1024"));
        }
        ValidateStorage(config.Storage, errors);

        foreach (var (name, provider) in config.Providers)
        {
            var path = $"providers.{name}";
            if (!ProviderKinds.Contains(provider.Kind))
            {
                errors.Add(new($"{path}.kind", provider.Kind.Length == 0
                    ? $"missing; set one of: {string.Join(", ", ProviderKinds)}"
                    : $"unknown provider kind '{provider.Kind}'; use one of: {string.Join(", ", ProviderKinds)} (OpenAI-compatible servers such as vLLM, Ollama, Groq and Mistral use 'openai')"));
            }
            if (!Uri.TryCreate(provider.BaseUrl, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                errors.Add(new($"{path}.base_url", provider.BaseUrl.Length == 0
                    ? "missing; set the provider's http(s) base URL"
                    : "must be an absolute http:// or https:// URL"));
            }
            if (provider.Kind == "azure-openai" && string.IsNullOrEmpty(provider.ApiVersion))
            {
                errors.Add(new($"{path}.api_version", "required for azure-openai, e.g. \"2024-10-21\""));
            }
            if (provider.TimeoutSeconds is <= 0 or > 3600)
            {
                errors.Add(new($"{path}.timeout_seconds", "must be greater than 0 and at most 3600"));
            }
            if (provider.Residency is { Length: > 0 } residency && !IsName(residency))
            {
                errors.Add(new($"{path}.residency", "use 'self-hosted' or a region name made of letters, digits, '-' and '_'"));
            }
        }

        foreach (var (name, model) in config.Models)
        {
            var path = $"models.{name}";
            if (model.Targets.Count == 0)
            {
                errors.Add(new($"{path}.targets", "needs at least one target: [{ provider: NAME, model: UPSTREAM_MODEL }]"));
            }
            for (var i = 0; i < model.Targets.Count; i++)
            {
                var target = model.Targets[i];
                var targetPath = $"{path}.targets[{i}]";
                if (target is null)
                {
                    errors.Add(new(targetPath, "empty target; write { provider: NAME, model: UPSTREAM_MODEL }"));
                    continue;
                }
                if (!config.Providers.ContainsKey(target.Provider))
                {
                    errors.Add(new($"{targetPath}.provider", target.Provider.Length == 0
                        ? "missing; name one of the providers"
                        : $"unknown provider '{target.Provider}'; configured providers: {List(config.Providers.Keys)}"));
                }
                if (target.Model.Length == 0)
                {
                    errors.Add(new($"{targetPath}.model", "missing; set the provider's model (or deployment) name"));
                }
                if (target.Weight is < 0 or > 1_000_000)
                {
                    errors.Add(new($"{targetPath}.weight", "must be between 0 and 1000000"));
                }
            }
            if (model.Targets.Count > 0 && model.Targets.All(t => t is null || t.Weight == 0))
            {
                errors.Add(new($"{path}.targets", "every target has weight 0; give at least one a positive weight"));
            }
            for (var i = 0; i < model.Fallbacks.Count; i++)
            {
                var fallback = model.Fallbacks[i];
                if (fallback == name)
                {
                    errors.Add(new($"{path}.fallbacks[{i}]", "a model cannot fall back to itself"));
                }
                else if (!config.Models.ContainsKey(fallback))
                {
                    errors.Add(new($"{path}.fallbacks[{i}]", $"unknown model '{fallback}'; configured models: {List(config.Models.Keys)}"));
                }
            }
            if (model.Price is { } price && (price.Input < 0 || price.Output < 0 || price.CachedInput < 0))
            {
                errors.Add(new($"{path}.price", "prices are USD per million tokens and cannot be negative"));
            }
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        var hashes = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < config.Keys.Count; i++)
        {
            var key = config.Keys[i];
            var path = $"keys[{i}]";
            if (key is null)
            {
                errors.Add(new(path, "empty entry; write { name: NAME, sha256: HASH, team: TEAM }"));
                continue;
            }
            if (key.Name.Length == 0)
            {
                errors.Add(new($"{path}.name", "missing; every key needs a name (it appears in traces instead of the key)"));
            }
            else if (!names.Add(key.Name))
            {
                errors.Add(new($"{path}.name", $"duplicate key name '{key.Name}'; names must be unique"));
            }
            var hasHash = key.Sha256 is not null;
            var hasKey = key.Key is not null;
            if (hasHash && hasKey)
            {
                errors.Add(new(path, "set either sha256 or key, not both"));
            }
            else if (!hasHash && !hasKey)
            {
                errors.Add(new(path, "set sha256 (64 hex digits; create one with `gateway keys create`) or key (e.g. ${MY_KEY})"));
            }
            else if (hasHash && !ApiKeyHasher.IsHexSha256(key.Sha256!))
            {
                errors.Add(new($"{path}.sha256", "must be 64 hexadecimal digits (the SHA-256 of the key)"));
            }
            else if (hasKey && key.Key!.Length < 16)
            {
                errors.Add(new($"{path}.key", "too short; use at least 16 characters (`gateway keys create` makes a strong one)"));
            }
            var hash = hasHash ? key.Sha256! : hasKey ? ApiKeyHasher.HashHex(key.Key!) : null;
            if (hash is not null && !hashes.Add(hash))
            {
                errors.Add(new(path, "the same key is configured twice; each key must be unique"));
            }
            for (var m = 0; m < key.Models.Count; m++)
            {
                if (!config.Models.ContainsKey(key.Models[m]))
                {
                    errors.Add(new($"{path}.models[{m}]", $"unknown model '{key.Models[m]}'; configured models: {List(config.Models.Keys)}"));
                }
            }
        }

        ValidateServiceAddress(config.Services.Router, "services.router", errors);
        ValidateServiceAddress(config.Services.Guard, "services.guard", errors);
        ValidateServiceAddress(config.Services.Budget, "services.budget", errors);
        ValidateServiceAddress(config.Services.Prompts, "services.prompts", errors);
    }

    private static void ValidateStorage(StorageConfig storage, List<ConfigError> errors)
    {
        if (!storage.State.StartsWith("sqlite://", StringComparison.Ordinal) && !storage.State.StartsWith("postgres://", StringComparison.Ordinal))
        {
            errors.Add(new("storage.state", "use sqlite://PATH or postgres://user:pass@host/db"));
        }
        if (!storage.Traces.StartsWith("sqlite://", StringComparison.Ordinal) && !storage.Traces.StartsWith("clickhouse://", StringComparison.Ordinal))
        {
            errors.Add(new("storage.traces", "use sqlite://PATH or clickhouse://user:pass@host:8123/db"));
        }
        if (storage.Redis is { Length: > 0 } redis && !redis.StartsWith("redis://", StringComparison.Ordinal))
        {
            errors.Add(new("storage.redis", "use redis://host:port"));
        }
    }

    private static void ValidateEndpoint(string value, string path, List<ConfigError> errors)
    {
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 0 or > 65535)
        {
            errors.Add(new(path, $"expected HOST:PORT such as 127.0.0.1:8080, found '{value}'"));
        }
    }

    private static void ValidateServiceAddress(string? address, string path, List<ConfigError> errors)
    {
        if (address is { Length: > 0 } && (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https")))
        {
            errors.Add(new(path, "expected the service's gRPC address as http://host:port (or https://), or leave it out to host the service in this process"));
        }
    }

    private static bool IsName(string value) => value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    private static string List(IEnumerable<string> names)
    {
        var joined = string.Join(", ", names);
        return joined.Length == 0 ? "(none)" : joined;
    }
}
