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
    public RoutingConfig Routing { get; init; } = new();
    public GuardConfig Guard { get; init; } = new();
    public List<BudgetConfig> Budgets { get; init; } = [];
    public List<RateLimitConfig> RateLimits { get; init; } = [];
    public AlertsConfig Alerts { get; init; } = new();
    public BudgetSettingsConfig BudgetSettings { get; init; } = new();
    public TracesConfig Traces { get; init; } = new();
    public McpConfig Mcp { get; init; } = new();
    public PromptsConfig Prompts { get; init; } = new();
    public AuthConfig Auth { get; init; } = new();
    public ResponsesConfig Responses { get; init; } = new();
}

// Credentials accepted on the LLM routes besides gateway keys.
public sealed record AuthConfig
{
    // Identity providers whose bearer tokens (JWTs) are API credentials; a token is matched by its `iss`.
    public List<OidcConfig> Oidc { get; init; } = [];
}

// The Responses API's state: responses served with `store: true`, kept per principal for chaining
// (`previous_response_id`) and GET /v1/responses/{id}, in storage.state.
public sealed record ResponsesConfig
{
    public double RetentionDays { get; init; } = 30;
}

// Which principals a budget or rate limit applies to: every field given must match (unset = any).
public sealed record ScopeConfig
{
    public string? Team { get; init; }
    public string? Project { get; init; }
    public string? Environment { get; init; }
    public string? User { get; init; }
    public string? Key { get; init; }

    public bool Covers(Gateway.Contracts.Common.V1.Principal principal)
        => (Team is null || Team == principal.Team)
           && (Project is null || Project == principal.Project)
           && (Environment is null || Environment == principal.Environment)
           && (User is null || User == principal.User)
           && (Key is null || Key == principal.KeyName);
}

public sealed record BudgetConfig
{
    public string Name { get; init; } = "";
    public ScopeConfig Scope { get; init; } = new();
    public decimal LimitUsd { get; init; }
    // day | week | month, calendar-aligned in `timezone` (IANA id, default UTC); weeks start on Monday.
    public string Period { get; init; } = "month";
    public string? Timezone { get; init; }
    // Fractions of the limit at which an alert fires (once per period per threshold).
    public List<double> Alerts { get; init; } = [];
    public DowngradeConfig? Downgrade { get; init; }
    // At 1.0 of the limit: refuse with 429 budget_exceeded. False: only alerts and downgrades.
    public bool HardCap { get; init; } = true;
    // Requests whose maximum cost is zero (self-hosted, free models) stay allowed past the limit.
    public bool AllowFree { get; init; } = true;
    // When the budget store is unreachable: false (default) refuses with 503, true admits unchecked.
    public bool FailOpen { get; init; }
}

public sealed record DowngradeConfig
{
    public double At { get; init; } = 0.9;
    public Dictionary<string, string> Models { get; init; } = new(StringComparer.Ordinal);
}

public sealed record RateLimitConfig
{
    public string Name { get; init; } = "";
    public ScopeConfig Scope { get; init; } = new();
    public int? RequestsPerMinute { get; init; }
    public int? TokensPerMinute { get; init; }
    public int? ConcurrentRequests { get; init; }
}

public sealed record AlertsConfig
{
    public string? Webhook { get; init; }
    public int Retries { get; init; } = 3;
}

public sealed record BudgetSettingsConfig
{
    // A reservation not settled or released within this time is freed (a crashed request's hold).
    public double LeaseSeconds { get; init; } = 900;
    // Output allowance reserved when a request sets no max_tokens.
    public int DefaultMaxTokens { get; init; } = 4096;
}

public sealed record ServerConfig
{
    public string Http { get; init; } = "127.0.0.1:8080";
    public string Grpc { get; init; } = "127.0.0.1:8081";
    public string? AdminKey { get; init; }
    public long MaxRequestBodyBytes { get; init; } = 4 * 1024 * 1024;
    public int MaxJsonDepth { get; init; } = 64;
    public ServerTlsConfig? Tls { get; init; }
    public ServerLimitsConfig Limits { get; init; } = new();

    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Http = {Http}, Grpc = {Grpc}, AdminKey = {Secrets.Mask(AdminKey)}, MaxRequestBodyBytes = {MaxRequestBodyBytes}, MaxJsonDepth = {MaxJsonDepth}, Limits = {Limits}");
        return true;
    }
}

// Transport limits against hostile or broken clients: header size and count, slow senders, HTTP/2 streams
// (applied by Kestrel, read at start), and caps on streaming responses held open at once (read per request).
public sealed record ServerLimitsConfig
{
    public int MaxRequestHeaderBytes { get; init; } = 64 * 1024;
    public int MaxRequestHeaders { get; init; } = 100;
    // A client must have sent all its request headers this long after it started (slow-loris defence).
    public double RequestHeadersTimeoutSeconds { get; init; } = 30;
    // A request body must arrive at least this fast, after a grace period (slow-body defence).
    public double MinRequestBodyBytesPerSecond { get; init; } = 240;
    public double MinRequestBodyGraceSeconds { get; init; } = 5;
    public double KeepAliveTimeoutSeconds { get; init; } = 130;
    public int Http2MaxStreamsPerConnection { get; init; } = 100;
    // Streaming responses open at once, in this process and per gateway key (or token principal); 0 = no cap.
    public int MaxConcurrentStreams { get; init; }
    public int MaxConcurrentStreamsPerKey { get; init; }
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
    // bedrock and vertex: the cloud region the endpoint is derived from (base_url, when set, overrides it).
    public string? Region { get; init; }
    // vertex: the Google Cloud project id.
    public string? Project { get; init; }
    // bedrock: where the AWS credentials come from; unset = the environment, then the instance role.
    public AwsCredentialsConfig? Aws { get; init; }
    // vertex: the service account the gateway signs its token requests with.
    public GoogleCredentialsConfig? Google { get; init; }

    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Kind = {Kind}, BaseUrl = {BaseUrl}, ApiKey = {Secrets.Mask(ApiKey)}, ApiVersion = {ApiVersion}, Residency = {Residency}, TimeoutSeconds = {TimeoutSeconds}, Headers = [{string.Join(", ", Headers.Keys)}], Region = {Region}, Project = {Project}, Aws = {Aws}, Google = {Google}");
        return true;
    }
}

// AWS credentials for SigV4. Keys given here win; without them the standard environment variables
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) are read, and without those the instance
// role is fetched from the instance metadata service (IMDSv2) at `imds_endpoint`.
public sealed record AwsCredentialsConfig
{
    public string? AccessKeyId { get; init; }
    public string? SecretAccessKey { get; init; }
    public string? SessionToken { get; init; }
    public string ImdsEndpoint { get; init; } = "http://169.254.169.254";

    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"AccessKeyId = {AccessKeyId}, SecretAccessKey = {Secrets.Mask(SecretAccessKey)}, SessionToken = {Secrets.Mask(SessionToken)}, ImdsEndpoint = {ImdsEndpoint}");
        return true;
    }
}

// A Google service account key (the JSON file the console downloads): from a file path or the JSON itself
// (normally `${ENV}`). Its token_uri is where the signed assertion is exchanged for an access token.
public sealed record GoogleCredentialsConfig
{
    public string? ServiceAccountFile { get; init; }
    public string? ServiceAccountJson { get; init; }

    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"ServiceAccountFile = {ServiceAccountFile}, ServiceAccountJson = {Secrets.Mask(ServiceAccountJson)}");
        return true;
    }
}

public sealed record ModelConfig
{
    public List<TargetConfig> Targets { get; init; } = [];
    public List<string> Fallbacks { get; init; } = [];
    public PriceConfig? Price { get; init; }
    public string? OwnedBy { get; init; }
    // A routing policy under routing.policies; unset = the built-in default policy.
    public string? Policy { get; init; }
    // Tokens the model accepts (prompt + completion); a context-length error falls back to a larger one.
    public int? ContextWindow { get; init; }
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

// How traces are captured, kept and written (docs/configuration.md, section traces).
public sealed record TracesConfig
{
    // full | redacted | metadata: what of the request and response bodies a trace keeps.
    public CapturePolicyConfig Capture { get; init; } = new();
    // ClickHouse TTL: rows older than this many days are dropped (0 = keep forever).
    public int RetentionDays { get; init; } = 30;
    // Rows per insert, and the longest a trace waits before its batch is written. Unset: the store's own
    // (ITraceStore.Batching: ClickHouse 500 rows / 1000 ms, SQLite 100 rows / 50 ms).
    public int? BatchSize { get; init; }
    public int? FlushMilliseconds { get; init; }
    // Traces held in memory while the store is away; past this they go to the spool directory on disk
    // (default: beside the SQLite trace file; for ClickHouse beside the SQLite state file, else ./data/trace-spool).
    // One process per directory: a second gateway on the same spool is refused at start.
    public int MemoryLimit { get; init; } = 10_000;
    public string? SpoolDirectory { get; init; }

    public string SpoolDirectoryFor(StorageConfig storage)
        => SpoolDirectory
            ?? (storage.Traces.StartsWith("sqlite://", StringComparison.Ordinal) ? storage.Traces["sqlite://".Length..] + "-spool"
            : storage.State.StartsWith("sqlite://", StringComparison.Ordinal) ? storage.State["sqlite://".Length..] + "-trace-spool"
            : Path.Combine(".", "data", "trace-spool"));
}

public sealed record CapturePolicyConfig
{
    public string Default { get; init; } = "redacted";
    // Overrides by team name and by key name (a key's entry wins over its team's).
    public Dictionary<string, string> Teams { get; init; } = new(StringComparer.Ordinal);
    public Dictionary<string, string> Keys { get; init; } = new(StringComparer.Ordinal);

    public static readonly IReadOnlyList<string> Policies = ["full", "redacted", "metadata"];

    public string For(string? keyName, string? team)
        => keyName is not null && Keys.TryGetValue(keyName, out var byKey) ? byKey
            : team is not null && Teams.TryGetValue(team, out var byTeam) ? byTeam
            : Default;
}

// Addresses of services hosted elsewhere (the mesh). No address = hosted in this process.
public sealed record ServicesConfig
{
    public string? Router { get; init; }
    public string? Guard { get; init; }
    public string? Budget { get; init; }
    public string? Prompts { get; init; }
    // The Dapr pub/sub component events go through (the sidecar is found by DAPR_GRPC_ENDPOINT or
    // DAPR_GRPC_PORT). Unset: events stay in this process.
    public string? Pubsub { get; init; }
    // Event name (Topics.*) -> the topic it is published on; unnamed events use their own name.
    public Dictionary<string, string> Topics { get; init; } = new(StringComparer.Ordinal);
    // Where the sidecar parks events a subscriber dropped or kept failing on (unset: none).
    public string? DeadLetterTopic { get; init; }
    // How long a delivered event id is remembered, so a redelivery is acknowledged without running twice.
    public int DedupWindowSeconds { get; init; } = 600;
    // The time a request may take end to end; each call between services gets what is left of it as its deadline.
    public double RequestTimeoutSeconds { get; init; } = 600;
    // TLS for calls to https:// service addresses: a private CA, and a client certificate for mTLS.
    public ClientTlsConfig? Tls { get; init; }

    public string TopicFor(string name) => Topics.TryGetValue(name, out var topic) ? topic : name;
}

public sealed record ClientTlsConfig
{
    // PEM file of the CA that signed the services' certificates (unset: the system's trust store).
    public string? Ca { get; init; }
    // PEM certificate and key this process presents to the services it calls (mTLS).
    public string? Cert { get; init; }
    public string? Key { get; init; }
}

// TLS on this process's gRPC port; with `client_ca` the port requires a client certificate signed by it (mTLS).
public sealed record ServerTlsConfig
{
    public string Cert { get; init; } = "";
    public string Key { get; init; } = "";
    public string? ClientCa { get; init; }
}

// PII, secrets, injection and moderation guardrails (docs/configuration.md, "guard").
public sealed record GuardConfig
{
    // If the guard cannot run (down, timed out, crashed), refuse with 503 instead of sending unchecked.
    public bool FailClosed { get; init; } = true;
    public Dictionary<string, GuardPolicyConfig> Policies { get; init; } = new(StringComparer.Ordinal);
    // First match wins; a request no rule matches is not inspected.
    public List<GuardAssignConfig> Assign { get; init; } = [];
    // Guard-wide moderation (per-policy keyword categories are guard.policies.<name>.moderation).
    public GuardModerationConfig Moderation { get; init; } = new();
}

public sealed record GuardModerationConfig
{
    // An OpenAI-compatible /v1/moderations endpoint asked about every request a policy applies to; unset = none.
    public ExternalModerationConfig? External { get; init; }
}

public sealed record ExternalModerationConfig
{
    // Where the gateway posts the texts (only ever from config, never from a client).
    public string Url { get; init; } = "";
    public string? ApiKey { get; init; }
    // The environment variable holding the key, read at each call (instead of api_key).
    public string? ApiKeyEnv { get; init; }
    // The moderation model to ask for (OpenAI: omni-moderation-latest); unset = the endpoint's default.
    public string? Model { get; init; }
    public int TimeoutMs { get; init; } = 2000;
    // Also moderate responses (and streamed text, per released segment).
    public bool Output { get; init; }
    // fail_closed: refuse with 503 when the endpoint fails or times out; fail_open: pass unmoderated (audited).
    public string OnError { get; init; } = "fail_closed";
    // Flagged category (as the endpoint names it: violence, self-harm/intent, ...) -> allow | audit | block;
    // `default` for the rest (block when unset).
    public Dictionary<string, string> Categories { get; init; } = new(StringComparer.Ordinal);
    // Where the endpoint runs, as a provider residency: a request pinned by route_self_hosted is sent to it only
    // when this is one of the residencies the policy allows.
    public string? Residency { get; init; }

    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Url = {Url}, ApiKey = {Secrets.Mask(ApiKey)}, ApiKeyEnv = {ApiKeyEnv}, Model = {Model}, TimeoutMs = {TimeoutMs}, Output = {Output}, OnError = {OnError}, Categories = [{string.Join(", ", Categories.Select(c => $"{c.Key}: {c.Value}"))}], Residency = {Residency}");
        return true;
    }
}

public sealed record GuardPolicyConfig
{
    // Entity type (EMAIL, PHONE, ..., SECRET, or a custom pattern's name) -> action; `default` for the rest.
    public Dictionary<string, string> Entities { get; init; } = new(StringComparer.Ordinal);
    // Action for prompt-injection / jailbreak heuristics (allow, audit, block); unset = audit.
    public string? Injection { get; init; }
    // Moderation category (violence, self_harm, hate, sexual_minors, weapons) -> action; `default` for the rest.
    public Dictionary<string, string> Moderation { get; init; } = new(StringComparer.Ordinal);
    // Entity type -> action for responses; empty = responses are not scanned.
    public Dictionary<string, string> Output { get; init; } = new(StringComparer.Ordinal);
    // Provider residencies that may serve a request routed by route_self_hosted; default [self-hosted].
    public List<string> Residency { get; init; } = [];
    public List<GuardPatternConfig> Patterns { get; init; } = [];
    public GuardDenyConfig? Deny { get; init; }
}

// A custom entity: its name becomes the entity type (e.g. EMPLOYEE_ID).
public sealed record GuardPatternConfig
{
    public string Name { get; init; } = "";
    public string Regex { get; init; } = "";
    public string? Action { get; init; }
}

// Terms that must not leave (project code names, customer names): matched case-insensitively as whole words.
public sealed record GuardDenyConfig
{
    public List<string> Terms { get; init; } = [];
    public string Action { get; init; } = "block";
}

public sealed record GuardAssignConfig
{
    public GuardScopeConfig Scope { get; init; } = new();
    public string Policy { get; init; } = "";
}

// Every field set must match; an empty scope matches every request.
public sealed record GuardScopeConfig
{
    public string? Team { get; init; }
    public string? Project { get; init; }
    public string? Environment { get; init; }
    public string? Key { get; init; }
    public string? User { get; init; }
    public string? Model { get; init; }
}

internal static class Secrets
{
    public static string Mask(string? value) => value is null ? "" : "***";

    public static string Scheme(string? uri) => uri is null ? "" : uri.IndexOf("://", StringComparison.Ordinal) is > 0 and var end ? uri[..(end + 3)] + "***" : "***";
}
