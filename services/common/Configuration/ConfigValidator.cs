using System.Net;
using Gateway.Common.Hosting;
using Gateway.Common.Security;

namespace Gateway.Common.Configuration;

// Semantic checks after binding: names are names, references resolve, addresses parse, every key can
// authenticate. A message may quote a value only as written in the file (`substituted` maps the key paths
// whose value came from the environment to that text), never a value a variable held.
internal sealed partial class ConfigValidator(GatewayConfig config, IReadOnlyDictionary<string, string> substituted)
{
    public static readonly IReadOnlyList<string> ProviderKinds = ["openai", "azure-openai", "anthropic", "gemini", "bedrock", "vertex"];

    private const int MinimumSecretLength = 16;

    private const int MaximumKeyLength = KeyAuthenticator.MaximumKeyLength;

    private readonly List<ConfigError> _errors = [];

    public List<ConfigError> Validate()
    {
        ValidateServer();
        ValidateStorage();
        ValidateProviders();
        ValidateModels();
        ValidateKeys();
        ValidateServices();
        ValidateRouting();
        ValidateGuard();
        ValidateBudgets();
        ValidateTraces();
        ValidateMcp();
        ValidatePrompts();
        ValidateAuth();
        ValidateResponses();
        return _errors;
    }

    private void ValidateServer()
    {
        var server = config.Server;
        var http = Endpoint("server.http", server.Http);
        var grpc = Endpoint("server.grpc", server.Grpc);
        if (http is not null && grpc is not null && http.Port == grpc.Port)
        {
            Error("server.grpc", "uses the same port as server.http; give gRPC (h2c) a port of its own, e.g. the next one");
        }
        if (server.AdminKey is { } adminKey)
        {
            Secret("server.admin_key", adminKey, "or leave it unset to turn the admin API off");
        }
        if (server.MaxRequestBodyBytes is < 1024 or > 1024L * 1024 * 1024)
        {
            Error("server.max_request_body_bytes", "must be between 1024 and 1073741824 bytes (default 4194304, 4 MiB)");
        }
        if (server.MaxJsonDepth is < 8 or > 1024)
        {
            Error("server.max_json_depth", "must be between 8 and 1024 (default 64)");
        }
        ValidateLimits(server.Limits);
    }

    private void ValidateLimits(ServerLimitsConfig limits)
    {
        if (limits.MaxRequestHeaderBytes is < 4096 or > 1024 * 1024)
        {
            Error("server.limits.max_request_header_bytes", "must be between 4096 and 1048576 bytes (default 65536)");
        }
        if (limits.MaxRequestHeaders is < 16 or > 1000)
        {
            Error("server.limits.max_request_headers", "must be between 16 and 1000 (default 100)");
        }
        if (limits.RequestHeadersTimeoutSeconds is < 1 or > 300)
        {
            Error("server.limits.request_headers_timeout_seconds", "must be between 1 and 300 seconds (default 30)");
        }
        if (limits.MinRequestBodyBytesPerSecond is < 0 or > 1024 * 1024)
        {
            Error("server.limits.min_request_body_bytes_per_second", "must be between 0 (no minimum) and 1048576 (default 240)");
        }
        if (limits.MinRequestBodyGraceSeconds is <= 1 or > 300)
        {
            Error("server.limits.min_request_body_grace_seconds", "must be more than 1 and at most 300 seconds (default 5)");
        }
        if (limits.KeepAliveTimeoutSeconds is < 1 or > 3600)
        {
            Error("server.limits.keep_alive_timeout_seconds", "must be between 1 and 3600 seconds (default 130)");
        }
        if (limits.Http2MaxStreamsPerConnection is < 1 or > 10_000)
        {
            Error("server.limits.http2_max_streams_per_connection", "must be between 1 and 10000 (default 100)");
        }
        if (limits.MaxConcurrentStreams < 0)
        {
            Error("server.limits.max_concurrent_streams", "must be 0 (no cap) or more");
        }
        if (limits.MaxConcurrentStreamsPerKey < 0)
        {
            Error("server.limits.max_concurrent_streams_per_key", "must be 0 (no cap) or more");
        }
    }

    private IPEndPoint? Endpoint(string path, string value)
    {
        var parsed = Listeners.TryParse(value);
        if (parsed is null)
        {
            Error(path, $"expected HOST:PORT with HOST an IP address, localhost or * and PORT 1-65535, e.g. 127.0.0.1:8080; found {Show(path, value)}");
        }
        return parsed;
    }

    // Storage URIs often hold a password, so these messages never repeat them.
    private void ValidateStorage()
    {
        StorageUri("storage.state", config.Storage.State, ["sqlite", "postgres", "postgresql"], "sqlite://./data/state.db or postgres://user:pass@host:5432/db");
        StorageUri("storage.traces", config.Storage.Traces, ["sqlite", "clickhouse"], "sqlite://./data/traces.db or clickhouse://user:pass@host:8123/db");
        if (config.Storage.Redis is { } redis)
        {
            StorageUri("storage.redis", redis, ["redis", "rediss"], "redis://host:6379 (rediss:// for TLS), or leave it out to keep counters in this process");
        }
    }

    private void StorageUri(string path, string value, string[] schemes, string example)
    {
        var separator = value.IndexOf("://", StringComparison.Ordinal);
        var scheme = separator > 0 ? value[..separator] : "";
        var valid = schemes.Contains(scheme) && (scheme == "sqlite"
            ? value.Length > "sqlite://".Length
            : Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Host.Length > 0);
        if (!valid)
        {
            Error(path, $"expected {example} (the value is not repeated here: it may hold a password)");
        }
    }

    private void ValidateProviders()
    {
        foreach (var (name, provider) in config.Providers)
        {
            var path = $"providers.{name}";
            if (!ConfigNames.IsName(name))
            {
                Error(path, $"'{name}' is not a valid provider name; use {ConfigNames.NameRule}");
            }
            if (!ProviderKinds.Contains(provider.Kind))
            {
                Error($"{path}.kind", provider.Kind.Length == 0
                    ? $"missing; set one of: {string.Join(", ", ProviderKinds)}"
                    : $"unknown provider kind {Show($"{path}.kind", provider.Kind)}; use one of: {string.Join(", ", ProviderKinds)} (OpenAI-compatible servers such as vLLM, Ollama, TGI, LM Studio, Groq and Mistral use openai)");
            }
            // bedrock and vertex derive their endpoint from the region; base_url only overrides it.
            if (provider.BaseUrl.Length > 0 || !CloudKinds.Contains(provider.Kind))
            {
                BaseUrl($"{path}.base_url", provider.BaseUrl);
            }
            ValidateCloudProvider(path, provider);
            if (provider.Kind == "azure-openai" && string.IsNullOrEmpty(provider.ApiVersion))
            {
                Error($"{path}.api_version", "required for azure-openai; set the Azure OpenAI API version, e.g. \"2024-10-21\"");
            }
            if (provider.ApiKey is { } apiKey && HasWhitespace(apiKey))
            {
                Error($"{path}.api_key", "contains whitespace or a line break; remove it (a trailing newline in the secret is the usual cause)");
            }
            if (provider.TimeoutSeconds is <= 0 or > 3600)
            {
                Error($"{path}.timeout_seconds", "must be more than 0 and at most 3600 seconds (default 120)");
            }
            if (provider.Residency is { } residency && !ConfigNames.IsName(residency))
            {
                Error($"{path}.residency", $"use self-hosted or a region name made of {ConfigNames.NameRule}");
            }
            foreach (var (header, value) in provider.Headers)
            {
                if (header.Length == 0 || !header.All(c => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c)))
                {
                    Error($"{path}.headers.{header}", "not a valid HTTP header name; use letters, digits and '-'");
                }
                else if (value.Any(char.IsControl))
                {
                    Error($"{path}.headers.{header}", "the value contains a line break or control character; remove it");
                }
            }
        }
    }

    private void BaseUrl(string path, string value)
    {
        if (value.Length == 0)
        {
            Error(path, "missing; set the provider's http(s) base URL, e.g. https://api.openai.com/v1");
        }
        else if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            Error(path, $"expected an absolute http:// or https:// URL such as https://api.openai.com/v1; found {Show(path, value)}");
        }
        else if (uri.UserInfo.Length > 0)
        {
            Error(path, "must not contain credentials; put the provider's key in api_key");
        }
        else if (uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            Error(path, "must not have a ?query or #fragment; the gateway appends the operation path (e.g. /chat/completions) to it");
        }
    }

    private void ValidateModels()
    {
        foreach (var (name, model) in config.Models)
        {
            var path = $"models.{name}";
            if (!ConfigNames.IsModelName(name))
            {
                Error(path, $"'{name}' is not a valid model name; use {ConfigNames.ModelNameRule}");
            }
            if (model.Targets.Count == 0)
            {
                Error($"{path}.targets", "needs at least one target, e.g. [{ provider: openai, model: gpt-4o }]");
            }
            for (var i = 0; i < model.Targets.Count; i++)
            {
                var target = model.Targets[i];
                var targetPath = $"{path}.targets[{i}]";
                if (target.Provider.Length == 0)
                {
                    Error($"{targetPath}.provider", $"missing; name one of the providers: {List(config.Providers.Keys)}");
                }
                else if (!config.Providers.ContainsKey(target.Provider))
                {
                    Error($"{targetPath}.provider", $"unknown provider {Show($"{targetPath}.provider", target.Provider)}; use one of: {List(config.Providers.Keys)}, or add it under providers");
                }
                if (string.IsNullOrWhiteSpace(target.Model))
                {
                    Error($"{targetPath}.model", "missing; set the model (or Azure deployment) name the provider expects");
                }
                else if (target.Model.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
                {
                    Error($"{targetPath}.model", "contains whitespace; write the provider's model name exactly");
                }
                if (target.Weight is < 0 or > 1_000_000)
                {
                    Error($"{targetPath}.weight", "must be between 0 and 1000000 (0 turns the target off; default 1)");
                }
            }
            if (model.Targets.Count > 0 && model.Targets.All(t => t.Weight == 0))
            {
                Error($"{path}.targets", "every target has weight 0, so nothing can serve this model; give at least one a positive weight");
            }
            for (var i = 0; i < model.Fallbacks.Count; i++)
            {
                var fallbackPath = $"{path}.fallbacks[{i}]";
                if (model.Fallbacks[i] == name)
                {
                    Error(fallbackPath, "a model cannot fall back to itself; name another model or remove the entry");
                }
                else if (!config.Models.ContainsKey(model.Fallbacks[i]))
                {
                    Error(fallbackPath, $"unknown model {Show(fallbackPath, model.Fallbacks[i])}; use one of: {List(config.Models.Keys)}");
                }
            }
            if (model.Price is { } price)
            {
                NotNegative($"{path}.price.input", price.Input);
                NotNegative($"{path}.price.output", price.Output);
                NotNegative($"{path}.price.cached_input", price.CachedInput ?? 0);
            }
        }
    }

    private void NotNegative(string path, decimal price)
    {
        if (price < 0)
        {
            Error(path, "cannot be negative; prices are USD per million tokens (0 for free)");
        }
    }

    private void ValidateKeys()
    {
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        var hashes = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < config.Keys.Count; i++)
        {
            var key = config.Keys[i];
            var path = $"keys[{i}]";
            if (key.Name.Length == 0)
            {
                Error($"{path}.name", "missing; every key needs a name (traces and logs show the name, never the key)");
            }
            else if (!ConfigNames.IsName(key.Name))
            {
                Error($"{path}.name", $"{Show($"{path}.name", key.Name)} is not a valid key name; use {ConfigNames.NameRule}");
            }
            else if (!names.TryAdd(key.Name, i))
            {
                Error($"{path}.name", $"{Show($"{path}.name", key.Name)} is already the name of keys[{names[key.Name]}]; names must be unique");
            }

            string? hash = null;
            if (key.Sha256 is not null && key.Key is not null)
            {
                Error(path, "has both sha256 and key; keep one (sha256 is preferred: the key itself then never touches the file)");
            }
            else if (key.Sha256 is null && key.Key is null)
            {
                Error(path, "needs sha256 (create one with `gateway keys create --name NAME`) or key (e.g. key: ${MY_KEY})");
            }
            else if (key.Sha256 is { } sha256)
            {
                if (ApiKeyHasher.IsHexSha256(sha256))
                {
                    hash = sha256.ToLowerInvariant();
                }
                else
                {
                    Error($"{path}.sha256", "must be 64 hexadecimal digits, the SHA-256 of the key as `gateway keys create` prints it");
                }
            }
            else if (key.Key!.Length > MaximumKeyLength)
            {
                Error($"{path}.key", $"too long; use at most {MaximumKeyLength} characters (longer keys are refused before they are checked)");
            }
            else if (Secret($"{path}.key", key.Key, "`gateway keys create` makes a strong one"))
            {
                hash = ApiKeyHasher.HashHex(key.Key!);
            }
            if (hash is not null && !hashes.TryAdd(hash, i))
            {
                Error(path, $"is the same key as keys[{hashes[hash]}]; every key must be unique, so create a new one with `gateway keys create`");
            }

            for (var m = 0; m < key.Models.Count; m++)
            {
                if (!config.Models.ContainsKey(key.Models[m]))
                {
                    Error($"{path}.models[{m}]", $"unknown model {Show($"{path}.models[{m}]", key.Models[m])}; use one of: {List(config.Models.Keys)}, or leave models out to allow all");
                }
            }
        }
    }

    private void ValidateServices()
    {
        ServiceAddress("services.router", config.Services.Router);
        ServiceAddress("services.guard", config.Services.Guard);
        ServiceAddress("services.budget", config.Services.Budget);
        ServiceAddress("services.prompts", config.Services.Prompts);
        if (config.Services.Pubsub is { } pubsub && !ConfigNames.IsName(pubsub))
        {
            Error("services.pubsub", $"use the Dapr pub/sub component's name, made of {ConfigNames.NameRule}");
        }
        foreach (var (name, topic) in config.Services.Topics)
        {
            if (!Events.Topics.All.Contains(name))
            {
                Error($"services.topics.{name}", $"unknown event; name one of: {List(Events.Topics.All)}");
            }
            if (!ConfigNames.IsName(topic))
            {
                Error($"services.topics.{name}", $"use a topic name made of {ConfigNames.NameRule}");
            }
        }
        if (config.Services.DeadLetterTopic is { } deadLetter && !ConfigNames.IsName(deadLetter))
        {
            Error("services.dead_letter_topic", $"use a topic name made of {ConfigNames.NameRule}");
        }
        if (config.Services.DedupWindowSeconds is < 1 or > 86_400)
        {
            Error("services.dedup_window_seconds", "use 1 to 86400 seconds (how long a delivered event id is remembered)");
        }
        if (config.Services.RequestTimeoutSeconds is not (> 0 and <= 3600))
        {
            Error("services.request_timeout_seconds", "use more than 0 and at most 3600 seconds");
        }
        if (config.Services.Tls is { } tls)
        {
            PemFile("services.tls.ca", tls.Ca);
            PemFile("services.tls.cert", tls.Cert);
            PemFile("services.tls.key", tls.Key);
            if ((tls.Cert is null) != (tls.Key is null))
            {
                Error("services.tls", "give both cert and key for a client certificate (mTLS), or neither");
            }
        }
        if (config.Server.Tls is { } server)
        {
            PemFile("server.tls.cert", server.Cert.Length == 0 ? null : server.Cert, required: true);
            PemFile("server.tls.key", server.Key.Length == 0 ? null : server.Key, required: true);
            PemFile("server.tls.client_ca", server.ClientCa);
        }
    }

    private void PemFile(string path, string? file, bool required = false)
    {
        if (file is null)
        {
            if (required)
            {
                Error(path, "required: the path of a PEM file");
            }
            return;
        }
        if (!File.Exists(file))
        {
            Error(path, $"no such file '{file}'; give the path of a PEM file readable by this process");
        }
    }

    private void ValidateBudgets()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < config.Budgets.Count; i++)
        {
            var budget = config.Budgets[i];
            var path = $"budgets[{i}]";
            if (!ConfigNames.IsModelName(budget.Name))
            {
                Error($"{path}.name", $"'{budget.Name}' is not a valid budget name; use {ConfigNames.ModelNameRule}");
            }
            else if (!names.Add(budget.Name))
            {
                Error($"{path}.name", $"'{budget.Name}' is used by another budget; budget names must be unique");
            }
            if (budget.LimitUsd <= 0)
            {
                Error($"{path}.limit_usd", "must be a positive amount in USD, e.g. 1000");
            }
            if (budget.Period is not ("day" or "week" or "month"))
            {
                Error($"{path}.period", $"expected day, week or month; found '{budget.Period}'");
            }
            if (budget.Timezone is { } zone && !TimeZoneInfo.TryFindSystemTimeZoneById(zone, out _))
            {
                Error($"{path}.timezone", $"'{zone}' is not a known time zone; use an IANA id such as Europe/Berlin, or leave it out for UTC");
            }
            for (var a = 0; a < budget.Alerts.Count; a++)
            {
                if (budget.Alerts[a] is <= 0 or > 1)
                {
                    Error($"{path}.alerts[{a}]", "must be a fraction of the limit greater than 0 and at most 1, e.g. 0.8");
                }
            }
            if (budget.Downgrade is { } downgrade)
            {
                if (downgrade.At is <= 0 or > 1)
                {
                    Error($"{path}.downgrade.at", "must be a fraction of the limit greater than 0 and at most 1, e.g. 0.9");
                }
                foreach (var (from, to) in downgrade.Models)
                {
                    if (!config.Models.ContainsKey(to))
                    {
                        Error($"{path}.downgrade.models.{from}", $"'{to}' is not a configured model; known: {List(config.Models.Keys)}");
                    }
                }
            }
        }
        for (var i = 0; i < config.RateLimits.Count; i++)
        {
            var limit = config.RateLimits[i];
            var path = $"rate_limits[{i}]";
            if (!ConfigNames.IsModelName(limit.Name))
            {
                Error($"{path}.name", $"'{limit.Name}' is not a valid rate limit name; use {ConfigNames.ModelNameRule}");
            }
            if (limit.RequestsPerMinute is <= 0 || limit.TokensPerMinute is <= 0 || limit.ConcurrentRequests is <= 0)
            {
                Error(path, "requests_per_minute, tokens_per_minute and concurrent_requests must be positive when set");
            }
            if (limit.RequestsPerMinute is null && limit.TokensPerMinute is null && limit.ConcurrentRequests is null)
            {
                Error(path, "sets no limit; give requests_per_minute, tokens_per_minute or concurrent_requests");
            }
        }
        if (config.Alerts.Webhook is { } webhook && (!Uri.TryCreate(webhook, UriKind.Absolute, out var hook) || (hook.Scheme != "http" && hook.Scheme != "https")))
        {
            Error("alerts.webhook", "expected an http:// or https:// URL that accepts a JSON POST");
        }
        if (config.BudgetSettings.LeaseSeconds is < 1 or > 86400)
        {
            Error("budget_settings.lease_seconds", "must be between 1 and 86400 seconds (default 900)");
        }
        if (config.BudgetSettings.DefaultMaxTokens is < 1)
        {
            Error("budget_settings.default_max_tokens", "must be a positive token count (default 4096)");
        }
    }

    private void ServiceAddress(string path, string? address)
    {
        if (address is not null && (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https") || uri.Host.Length == 0))
        {
            Error(path, $"expected the service's gRPC address such as http://router:8081 (https:// for TLS), or leave it out to host the service in this process; found {Show(path, address)}");
        }
    }

    private void ValidateGuard()
    {
        var guard = config.Guard;
        foreach (var (name, policy) in guard.Policies)
        {
            var path = $"guard.policies.{name}";
            if (!ConfigNames.IsName(name))
            {
                Error(path, $"'{name}' is not a valid policy name; use {ConfigNames.NameRule}");
            }
            var custom = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < policy.Patterns.Count; i++)
            {
                var pattern = policy.Patterns[i];
                var patternPath = $"{path}.patterns[{i}]";
                if (!GuardEntityName().IsMatch(pattern.Name))
                {
                    Error($"{patternPath}.name", "use an upper-case entity name such as EMPLOYEE_ID (letters, digits and '_')");
                }
                else if (GuardNames.EntityTypes.Contains(pattern.Name) || !custom.Add(pattern.Name))
                {
                    Error($"{patternPath}.name", $"'{pattern.Name}' is already an entity type; give the pattern a name of its own");
                }
                if (pattern.Regex.Length == 0)
                {
                    Error($"{patternPath}.regex", "missing; write the .NET regular expression to find, e.g. 'EMP-\\d{6}'");
                }
                else
                {
                    try
                    {
                        _ = new System.Text.RegularExpressions.Regex(pattern.Regex, System.Text.RegularExpressions.RegexOptions.NonBacktracking);
                    }
                    catch (ArgumentException e)
                    {
                        Error($"{patternPath}.regex", $"not a valid regular expression (backreferences and lookarounds are not supported): {e.Message}");
                    }
                }
                if (pattern.Action is { } action)
                {
                    GuardAction($"{patternPath}.action", action, GuardNames.Actions);
                }
            }
            foreach (var (type, action) in policy.Entities)
            {
                GuardEntity($"{path}.entities.{type}", type, custom);
                GuardAction($"{path}.entities.{type}", action, GuardNames.Actions);
            }
            foreach (var (type, action) in policy.Output)
            {
                GuardEntity($"{path}.output.{type}", type, custom);
                GuardAction($"{path}.output.{type}", action, GuardNames.Actions.Where(a => a != "route_self_hosted" && a != "pseudonymize").ToList());
            }
            if (policy.Injection is { } injection)
            {
                GuardAction($"{path}.injection", injection, GuardNames.VerdictActions);
            }
            foreach (var (category, action) in policy.Moderation)
            {
                if (category != GuardNames.Default && !GuardNames.ModerationCategories.Contains(category))
                {
                    Error($"{path}.moderation.{category}", $"unknown category; use default or one of: {string.Join(", ", GuardNames.ModerationCategories)}");
                }
                GuardAction($"{path}.moderation.{category}", action, GuardNames.VerdictActions);
            }
            for (var i = 0; i < policy.Residency.Count; i++)
            {
                if (!ConfigNames.IsName(policy.Residency[i]))
                {
                    Error($"{path}.residency[{i}]", $"use self-hosted or a region name made of {ConfigNames.NameRule}, as in providers.*.residency");
                }
            }
            if (policy.Deny is { } deny)
            {
                GuardAction($"{path}.deny.action", deny.Action, GuardNames.Actions);
                for (var i = 0; i < deny.Terms.Count; i++)
                {
                    if (string.IsNullOrWhiteSpace(deny.Terms[i]))
                    {
                        Error($"{path}.deny.terms[{i}]", "empty term; write the word or phrase to stop, or remove the entry");
                    }
                }
            }
        }
        if (guard.Moderation.External is { } external)
        {
            ValidateExternalModeration(external);
        }
        for (var i = 0; i < guard.Assign.Count; i++)
        {
            var rule = guard.Assign[i];
            if (rule.Policy.Length == 0)
            {
                Error($"guard.assign[{i}].policy", $"missing; name one of the policies: {List(guard.Policies.Keys)}");
            }
            else if (!guard.Policies.ContainsKey(rule.Policy))
            {
                Error($"guard.assign[{i}].policy", $"unknown policy '{rule.Policy}'; use one of: {List(guard.Policies.Keys)}, or add it under guard.policies");
            }
            if (rule.Scope.Model is { } model && !config.Models.ContainsKey(model))
            {
                Error($"guard.assign[{i}].scope.model", $"unknown model '{model}'; use one of: {List(config.Models.Keys)}");
            }
            if (rule.Scope.Key is { } key && !config.Keys.Any(k => k.Name == key))
            {
                Error($"guard.assign[{i}].scope.key", $"unknown key name '{key}'; use one of: {List(config.Keys.Select(k => k.Name))}");
            }
        }
    }

    private void ValidateExternalModeration(ExternalModerationConfig external)
    {
        const string path = "guard.moderation.external";
        if (!Uri.TryCreate(external.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            Error($"{path}.url", "expected the absolute http(s) URL of an OpenAI-compatible moderation endpoint, e.g. https://api.openai.com/v1/moderations");
        }
        if (external.ApiKey is not null && external.ApiKeyEnv is not null)
        {
            Error($"{path}.api_key_env", "set api_key or api_key_env, not both");
        }
        if (external.ApiKeyEnv is { } variable && string.IsNullOrWhiteSpace(variable))
        {
            Error($"{path}.api_key_env", "expected the name of an environment variable holding the key");
        }
        if (external.TimeoutMs is < 1 or > 60_000)
        {
            Error($"{path}.timeout_ms", "must be between 1 and 60000 milliseconds (default 2000)");
        }
        if (external.OnError is not ("fail_closed" or "fail_open"))
        {
            Error($"{path}.on_error", $"expected fail_closed (refuse with 503 when the endpoint fails) or fail_open (pass unmoderated, audited); found '{external.OnError}'");
        }
        foreach (var (category, action) in external.Categories)
        {
            if (string.IsNullOrWhiteSpace(category))
            {
                Error($"{path}.categories", "a category name is empty; use the endpoint's names (violence, self-harm/intent, ...) or default");
            }
            GuardAction($"{path}.categories.{category}", action, ["allow", "audit", "block"]);
        }
    }

    private void GuardEntity(string path, string type, HashSet<string> custom)
    {
        if (type != GuardNames.Default && !GuardNames.EntityTypes.Contains(type) && !custom.Contains(type))
        {
            Error(path, $"unknown entity type; use default, one of: {string.Join(", ", GuardNames.EntityTypes)}, or the name of one of this policy's patterns");
        }
    }

    private void GuardAction(string path, string action, IReadOnlyCollection<string> allowed)
    {
        if (!allowed.Contains(action))
        {
            Error(path, $"unknown action '{action}'; use one of: {string.Join(", ", allowed)}");
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^[A-Z][A-Z0-9_]{0,63}\z")]
    private static partial System.Text.RegularExpressions.Regex GuardEntityName();

    private void ValidateTraces()
    {
        var traces = config.Traces;
        CapturePolicy("traces.capture.default", traces.Capture.Default);
        foreach (var (team, policy) in traces.Capture.Teams)
        {
            CapturePolicy($"traces.capture.teams.{team}", policy);
        }
        foreach (var (key, policy) in traces.Capture.Keys)
        {
            CapturePolicy($"traces.capture.keys.{key}", policy);
            if (!config.Keys.Any(k => k.Name == key))
            {
                Error($"traces.capture.keys.{key}", $"no key is named '{key}'; use one of: {List(config.Keys.Select(k => k.Name))}");
            }
        }
        if (traces.RetentionDays is < 0 or > 3650)
        {
            Error("traces.retention_days", "must be between 0 (keep forever) and 3650 days (default 30)");
        }
        if (traces.BatchSize is < 1 or > 100_000)
        {
            Error("traces.batch_size", "must be between 1 and 100000 rows (default: 500 for ClickHouse, 100 for SQLite)");
        }
        if (traces.FlushMilliseconds is < 10 or > 60_000)
        {
            Error("traces.flush_milliseconds", "must be between 10 and 60000 (default: 1000 for ClickHouse, 50 for SQLite)");
        }
        if (traces.MemoryLimit is < 1 or > 10_000_000)
        {
            Error("traces.memory_limit", "must be between 1 and 10000000 traces (default 10000); past it traces wait in the spool on disk");
        }
        if (traces.SpoolDirectory is not null && string.IsNullOrWhiteSpace(traces.SpoolDirectory))
        {
            Error("traces.spool_directory", "must name a directory, e.g. ./data/trace-spool");
        }
    }

    private void CapturePolicy(string path, string value)
    {
        if (!CapturePolicyConfig.Policies.Contains(value))
        {
            Error(path, $"expected full, redacted (bodies after the guard's redaction) or metadata (no bodies kept); found {Show(path, value)}");
        }
    }

    // True when the secret is usable; the value itself is never part of a message.
    private bool Secret(string path, string value, string advice)
    {
        if (HasWhitespace(value))
        {
            Error(path, "contains whitespace or a line break; remove it (a trailing newline in the secret is the usual cause)");
            return false;
        }
        if (value.Length < MinimumSecretLength)
        {
            Error(path, $"too short; use at least {MinimumSecretLength} random characters ({advice})");
            return false;
        }
        return true;
    }

    private static bool HasWhitespace(string value) => value.Any(c => char.IsWhiteSpace(c) || char.IsControl(c));

    private void Error(string path, string message) => _errors.Add(new(path, message));

    // A value as the file writes it: for `${NAME}` that is the reference, not what the variable holds.
    private string Show(string path, string value)
    {
        var text = substituted.TryGetValue(path, out var written) ? written : value;
        return $"'{(text.Length <= 60 ? text : text[..60] + "…")}'";
    }

    private static string List(IEnumerable<string> names)
    {
        var joined = string.Join(", ", names);
        return joined.Length == 0 ? "(none configured)" : joined;
    }
}
