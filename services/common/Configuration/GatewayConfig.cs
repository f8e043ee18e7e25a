using System.Text;

namespace Gateway.Common.Configuration;

// The whole gateway configuration, bound from one YAML file (docs/configuration.md documents every key).
// Property names bind from snake_case keys: BaseUrl <- base_url. Records that hold secrets print them as
// `***`, so logging a configuration object never leaks one.
public sealed record GatewayConfig
{
    public ServerConfig Server { get; init; } = new();
    public StorageConfig Storage { get; init; } = new();
    public Dictionary<string, ProviderConfig> Providers { get; init; } = new(StringComparer.Ordinal);
    public Dictionary<string, ModelConfig> Models { get; init; } = new(StringComparer.Ordinal);
    public List<KeyConfig> Keys { get; init; } = [];
    public ServicesConfig Services { get; init; } = new();
    public McpConfig Mcp { get; init; } = new();
}

public sealed record ServerConfig
{
    public string Http { get; init; } = "127.0.0.1:8080";
    public string Grpc { get; init; } = "127.0.0.1:8081";
    public string? AdminKey { get; init; }
    public long MaxRequestBodyBytes { get; init; } = 4 * 1024 * 1024;
    public int MaxJsonDepth { get; init; } = 64;

    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Http = {Http}, Grpc = {Grpc}, AdminKey = {Secrets.Mask(AdminKey)}, MaxRequestBodyBytes = {MaxRequestBodyBytes}, MaxJsonDepth = {MaxJsonDepth}");
        return true;
    }
}

public sealed record StorageConfig
{
    public string State { get; init; } = "sqlite://./data/state.db";
    public string Traces { get; init; } = "sqlite://./data/traces.db";
    public string? Redis { get; init; }

    // Connection strings may hold passwords: only the scheme is printed.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"State = {Secrets.Scheme(State)}, Traces = {Secrets.Scheme(Traces)}, Redis = {Secrets.Scheme(Redis)}");
        return true;
    }
}

public sealed record ProviderConfig
{
    public string Kind { get; init; } = "";
    public string BaseUrl { get; init; } = "";
    public string? ApiKey { get; init; }
    public string? ApiVersion { get; init; }
    public string? Residency { get; init; }
    public double TimeoutSeconds { get; init; } = 120;
    // Extra headers sent to this provider only (e.g. OpenAI-Organization); never taken from clients.
    public Dictionary<string, string> Headers { get; init; } = new(StringComparer.OrdinalIgnoreCase);

    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Kind = {Kind}, BaseUrl = {BaseUrl}, ApiKey = {Secrets.Mask(ApiKey)}, ApiVersion = {ApiVersion}, Residency = {Residency}, TimeoutSeconds = {TimeoutSeconds}, Headers = [{string.Join(", ", Headers.Keys)}]");
        return true;
    }
}

public sealed record ModelConfig
{
    public List<TargetConfig> Targets { get; init; } = [];
    public List<string> Fallbacks { get; init; } = [];
    public PriceConfig? Price { get; init; }
    public string? OwnedBy { get; init; }
}

public sealed record TargetConfig
{
    public string Provider { get; init; } = "";
    public string Model { get; init; } = "";
    public int Weight { get; init; } = 1;
}

// USD per million tokens.
public sealed record PriceConfig
{
    public decimal Input { get; init; }
    public decimal Output { get; init; }
    public decimal? CachedInput { get; init; }
}

public sealed record KeyConfig
{
    public string Name { get; init; } = "";
    // Hex SHA-256 of the key: the preferred form, the key itself never touches the file.
    public string? Sha256 { get; init; }
    // The key itself, normally `${ENV}`; hashed at load and then forgotten.
    public string? Key { get; init; }
    public string? Team { get; init; }
    public string? Project { get; init; }
    public string? Environment { get; init; }
    public string? User { get; init; }
    public List<string> Roles { get; init; } = [];
    // Public model names this key may use; empty = all.
    public List<string> Models { get; init; } = [];

    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Name = {Name}, Sha256 = {Sha256}, Key = {Secrets.Mask(Key)}, Team = {Team}, Project = {Project}, Environment = {Environment}, User = {User}, Roles = [{string.Join(", ", Roles)}], Models = [{string.Join(", ", Models)}]");
        return true;
    }
}

// Addresses of services hosted elsewhere (the mesh). No address = hosted in this process.
public sealed record ServicesConfig
{
    public string? Router { get; init; }
    public string? Guard { get; init; }
    public string? Budget { get; init; }
    public string? Prompts { get; init; }
}

internal static class Secrets
{
    public static string Mask(string? value) => value is null ? "" : "***";

    public static string Scheme(string? uri) => uri is null ? "" : uri.IndexOf("://", StringComparison.Ordinal) is > 0 and var end ? uri[..(end + 3)] + "***" : "***";
}
