using Gateway.Common.Configuration;
using Gateway.Common.Security;
using static Gateway.Common.Tests.Configuration.ConfigAssert;

namespace Gateway.Common.Tests.Configuration;

// Errors in what the configuration means: required fields, references, names, addresses, keys.
public sealed class ValidationErrorTests
{
    private const string Key = "ci-key-0123456789abcdef";

    // server

    [Theory]
    [InlineData("8080")]
    [InlineData("gateway.internal:8080")]
    [InlineData("127.0.0.1:70000")]
    [InlineData("127.0.0.1:0")]
    [InlineData("127.0.0.1:http")]
    public void Parse_BadServerEndpoint_ShowsTheExpectedForm(string endpoint)
        => Single($"{ProviderAndModel}\nserver:\n  http: \"{endpoint}\"\n", "server.http",
            "expected HOST:PORT with HOST an IP address, localhost or * and PORT 1-65535, e.g. 127.0.0.1:8080", $"found '{endpoint}'");

    [Theory]
    [InlineData("127.0.0.1:9000")]
    [InlineData("[::1]:9000")]
    [InlineData("localhost:9000")]
    [InlineData("*:9000")]
    [InlineData("0.0.0.0:9000")]
    public void Parse_GoodServerEndpoint_IsAccepted(string endpoint)
        => Assert.Equal(endpoint, ConfigLoader.Parse($"{ProviderAndModel}\nserver:\n  grpc: \"{endpoint}\"\n", NoEnvironment).Server.Grpc);

    [Fact]
    public void Parse_GrpcOnTheHttpPort_AsksForItsOwnPort()
        => Single($"{ProviderAndModel}\nserver:\n  http: 127.0.0.1:9000\n  grpc: 127.0.0.1:9000\n", "server.grpc",
            "uses the same port as server.http; give gRPC (h2c) a port of its own");

    [Fact]
    public void Parse_ShortAdminKey_AsksForALongerOne()
        => Single($"{ProviderAndModel}\nserver:\n  admin_key: letmein\n", "server.admin_key",
            "too short; use at least 16 random characters (or leave it unset to turn the admin API off)");

    [Theory]
    [InlineData("max_request_body_bytes: 10", "server.max_request_body_bytes", "must be between 1024 and 1073741824 bytes")]
    [InlineData("max_json_depth: 2", "server.max_json_depth", "must be between 8 and 1024")]
    public void Parse_LimitOutOfRange_GivesTheRange(string line, string path, string message)
        => Single($"{ProviderAndModel}\nserver:\n  {line}\n", path, message);

    [Theory]
    [InlineData("max_request_header_bytes: 100", "server.limits.max_request_header_bytes", "must be between 4096 and 1048576 bytes")]
    [InlineData("max_request_headers: 5", "server.limits.max_request_headers", "must be between 16 and 1000")]
    [InlineData("request_headers_timeout_seconds: 0", "server.limits.request_headers_timeout_seconds", "must be between 1 and 300 seconds")]
    [InlineData("min_request_body_bytes_per_second: -1", "server.limits.min_request_body_bytes_per_second", "must be between 0 (no minimum) and 1048576")]
    [InlineData("min_request_body_grace_seconds: 1", "server.limits.min_request_body_grace_seconds", "must be more than 1 and at most 300 seconds")]
    [InlineData("keep_alive_timeout_seconds: 0", "server.limits.keep_alive_timeout_seconds", "must be between 1 and 3600 seconds")]
    [InlineData("http2_max_streams_per_connection: 0", "server.limits.http2_max_streams_per_connection", "must be between 1 and 10000")]
    [InlineData("max_concurrent_streams: -1", "server.limits.max_concurrent_streams", "must be 0 (no cap) or more")]
    [InlineData("max_concurrent_streams_per_key: -5", "server.limits.max_concurrent_streams_per_key", "must be 0 (no cap) or more")]
    public void Parse_TransportLimitOutOfRange_NamesTheKeyPath(string line, string path, string message)
        => Single($"{ProviderAndModel}\nserver:\n  limits:\n    {line}\n", path, message);

    // storage

    [Theory]
    [InlineData("state: mysql://app:hunter2@db/gateway", "storage.state", "expected sqlite://./data/state.db or postgres://user:pass@host:5432/db")]
    [InlineData("state: postgres://app:hunter2@/gateway", "storage.state", "expected sqlite://./data/state.db or postgres://user:pass@host:5432/db")]
    [InlineData("state: ./data/state.db", "storage.state", "expected sqlite://./data/state.db or postgres://user:pass@host:5432/db")]
    [InlineData("traces: postgres://app:hunter2@db/traces", "storage.traces", "expected sqlite://./data/traces.db or clickhouse://user:pass@host:8123/db")]
    [InlineData("traces: sqlite://", "storage.traces", "expected sqlite://./data/traces.db or clickhouse://user:pass@host:8123/db")]
    [InlineData("redis: http://:hunter2@cache:6379", "storage.redis", "expected redis://host:6379 (rediss:// for TLS)")]
    public void Parse_BadStorageUri_ShowsTheFormWithoutRepeatingTheValue(string line, string path, string message)
    {
        var error = Single($"{ProviderAndModel}\nstorage:\n  {line}\n", path, message, "the value is not repeated here: it may hold a password");

        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("state: postgres://app:hunter2@db:5432/gateway")]
    [InlineData("state: postgresql://app@db/gateway")]
    [InlineData("traces: clickhouse://default:pw@127.0.0.1:8123/gateway")]
    [InlineData("redis: rediss://cache:6380")]
    public void Parse_GoodStorageUri_IsAccepted(string line)
        => ConfigLoader.Parse($"{ProviderAndModel}\nstorage:\n  {line}\n", NoEnvironment);

    // providers

    [Fact]
    public void Parse_ProviderWithoutKind_ListsTheKinds()
        => Single("providers:\n  openai: { base_url: https://api.openai.com/v1 }\n", "providers.openai.kind",
            "missing; set one of: openai, azure-openai, anthropic, gemini, bedrock, vertex");

    [Fact]
    public void Parse_UnknownProviderKind_ListsTheKindsAndTheOpenAiCompatibleHint()
        => Single("providers:\n  vllm: { kind: vllm, base_url: http://vllm:8000/v1 }\n", "providers.vllm.kind",
            "unknown provider kind 'vllm'; use one of: openai, azure-openai, anthropic, gemini, bedrock, vertex", "vLLM, Ollama, TGI, LM Studio, Groq and Mistral use openai");

    [Fact]
    public void Parse_ProviderWithoutBaseUrl_AsksForOne()
        => Single("providers:\n  openai: { kind: openai }\n", "providers.openai.base_url", "missing; set the provider's http(s) base URL, e.g. https://api.openai.com/v1");

    [Theory]
    [InlineData("api.openai.com/v1", "expected an absolute http:// or https:// URL such as https://api.openai.com/v1; found 'api.openai.com/v1'")]
    [InlineData("ftp://files.example.com", "expected an absolute http:// or https:// URL")]
    [InlineData("https://user:pw@api.example.com/v1", "must not contain credentials; put the provider's key in api_key")]
    [InlineData("https://api.example.com/v1?key=abc", "must not have a ?query or #fragment")]
    public void Parse_BadBaseUrl_SaysWhatAUsableOneLooksLike(string url, string message)
        => Single($"providers:\n  openai: {{ kind: openai, base_url: \"{url}\" }}\n", "providers.openai.base_url", message);

    [Fact]
    public void Parse_AzureWithoutApiVersion_AsksForIt()
        => Single("providers:\n  azure: { kind: azure-openai, base_url: https://example.openai.azure.com }\n", "providers.azure.api_version",
            "required for azure-openai; set the Azure OpenAI API version, e.g. \"2024-10-21\"");

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("3601")]
    public void Parse_TimeoutOutOfRange_GivesTheRange(string timeout)
        => Single($"providers:\n  openai: {{ kind: openai, base_url: https://api.openai.com/v1, timeout_seconds: {timeout} }}\n",
            "providers.openai.timeout_seconds", "must be more than 0 and at most 3600 seconds (default 120)");

    [Theory]
    [InlineData("open ai")]
    [InlineData("-openai")]
    [InlineData("openai/eu")]
    public void Parse_BadProviderName_GivesTheRule(string name)
        => Single($"providers:\n  \"{name}\": {{ kind: openai, base_url: https://api.openai.com/v1 }}\n", $"providers.{name}",
            $"'{name}' is not a valid provider name; use letters, digits, '-', '_' and '.'");

    [Fact]
    public void Parse_BadResidency_GivesTheRule()
        => Single("providers:\n  onprem: { kind: openai, base_url: http://vllm:8000/v1, residency: eu west }\n", "providers.onprem.residency",
            "use self-hosted or a region name");

    [Fact]
    public void Parse_BadHeaderName_IsRejected()
        => Single("providers:\n  openai: { kind: openai, base_url: https://api.openai.com/v1, headers: { \"Bad Header\": x } }\n",
            "providers.openai.headers.Bad Header", "not a valid HTTP header name");

    [Fact]
    public void Parse_ApiKeyWithTrailingNewline_IsRejectedWithoutShowingIt()
    {
        var error = Single(Provider.Replace("base_url:", "api_key: \"${OPENAI_API_KEY}\", base_url:", StringComparison.Ordinal),
            name => name == "OPENAI_API_KEY" ? "sk-proj-abcdef0123456789\n" : null,
            "providers.openai.api_key", "contains whitespace or a line break; remove it");

        Assert.DoesNotContain("sk-proj", error.Message, StringComparison.Ordinal);
    }

    // models

    [Fact]
    public void Parse_ModelWithoutTargets_ShowsATarget()
        => Single(Provider + "\nmodels:\n  gpt-4o:\n    price: { input: 2.5, output: 10 }\n", "models.gpt-4o.targets",
            "needs at least one target, e.g. [{ provider: openai, model: gpt-4o }]");

    [Fact]
    public void Parse_TargetWithoutProvider_ListsTheProviders()
        => Single(Provider + "\nmodels:\n  gpt-4o:\n    targets: [{ model: gpt-4o }]\n", "models.gpt-4o.targets[0].provider",
            "missing; name one of the providers: openai");

    [Fact]
    public void Parse_TargetWithUnknownProvider_ListsTheProviders()
        => Single(Provider + "\nmodels:\n  gpt-4o:\n    targets: [{ provider: opena, model: gpt-4o }]\n", "models.gpt-4o.targets[0].provider",
            "unknown provider 'opena'; use one of: openai, or add it under providers");

    [Fact]
    public void Parse_TargetWithoutModel_AsksForTheUpstreamName()
        => Single(Provider + "\nmodels:\n  gpt-4o:\n    targets: [{ provider: openai }]\n", "models.gpt-4o.targets[0].model",
            "missing; set the model (or Azure deployment) name the provider expects");

    [Theory]
    [InlineData("-1")]
    [InlineData("1000001")]
    public void Parse_WeightOutOfRange_GivesTheRange(string weight)
        => Single($"{Provider}\nmodels:\n  gpt-4o:\n    targets: [{{ provider: openai, model: gpt-4o, weight: {weight} }}]\n",
            "models.gpt-4o.targets[0].weight", "must be between 0 and 1000000 (0 turns the target off; default 1)");

    [Fact]
    public void Parse_AllWeightsZero_AsksForAPositiveWeight()
        => Single(Provider + "\nmodels:\n  gpt-4o:\n    targets:\n      - { provider: openai, model: gpt-4o, weight: 0 }\n      - { provider: openai, model: gpt-4o-2024-08-06, weight: 0 }\n",
            "models.gpt-4o.targets", "every target has weight 0", "give at least one a positive weight");

    [Fact]
    public void Parse_UnknownFallback_ListsTheModels()
        => Single(ProviderAndModel + "\n    fallbacks: [claude-sonnet-4]\n", "models.gpt-4o.fallbacks[0]",
            "unknown model 'claude-sonnet-4'; use one of: gpt-4o");

    [Fact]
    public void Parse_FallbackToItself_IsRejected()
        => Single(ProviderAndModel + "\n    fallbacks: [gpt-4o]\n", "models.gpt-4o.fallbacks[0]", "a model cannot fall back to itself; name another model or remove the entry");

    [Theory]
    [InlineData("{ input: -1, output: 10 }", "models.gpt-4o.price.input")]
    [InlineData("{ input: 1, output: -0.5 }", "models.gpt-4o.price.output")]
    [InlineData("{ input: 1, output: 2, cached_input: -0.1 }", "models.gpt-4o.price.cached_input")]
    public void Parse_NegativePrice_NamesTheField(string price, string path)
        => Single($"{ProviderAndModel}\n    price: {price}\n", path, "cannot be negative; prices are USD per million tokens (0 for free)");

    [Theory]
    [InlineData("gpt 4o")]
    [InlineData("gpt-4o?")]
    [InlineData("/gpt-4o")]
    public void Parse_BadModelName_GivesTheRule(string name)
        => Single($"{Provider}\nmodels:\n  \"{name}\":\n    targets: [{{ provider: openai, model: gpt-4o }}]\n", $"models.{name}",
            $"'{name}' is not a valid model name; use letters, digits, '-', '_', '.', ':' and '/'");

    [Theory]
    [InlineData("gemini-2.5-flash")]
    [InlineData("llama3:8b")]
    [InlineData("meta-llama/Meta-Llama-3-70B-Instruct")]
    public void Parse_ModelNamesClientsUse_AreAccepted(string name)
        => Assert.Contains(name, ConfigLoader.Parse($"{Provider}\nmodels:\n  {name}:\n    targets: [{{ provider: openai, model: x }}]\n", NoEnvironment).Models.Keys);

    // keys

    [Fact]
    public void Parse_KeyWithNeitherHashNorKey_SaysHowToMakeOne()
        => Single($"{ProviderAndModel}\nkeys:\n  - {{ name: ci, team: qa }}\n", "keys[0]",
            "needs sha256 (create one with `gateway keys create --name NAME`) or key (e.g. key: ${MY_KEY})");

    [Fact]
    public void Parse_KeyWithBothHashAndKey_AsksToKeepOne()
        => Single($"{ProviderAndModel}\nkeys:\n  - {{ name: ci, key: {Key}, sha256: \"{ApiKeyHasher.HashHex(Key)}\" }}\n", "keys[0]",
            "has both sha256 and key; keep one");

    [Theory]
    [InlineData("9f86d0")]
    [InlineData("zz86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")]
    public void Parse_BadSha256_SaysWhatAHashLooksLike(string sha256)
        => Single($"{ProviderAndModel}\nkeys:\n  - {{ name: ci, sha256: \"{sha256}\" }}\n", "keys[0].sha256",
            "must be 64 hexadecimal digits, the SHA-256 of the key as `gateway keys create` prints it");

    [Fact]
    public void Parse_ShortKey_AsksForALongerOneWithoutShowingIt()
    {
        var error = Single($"{ProviderAndModel}\nkeys:\n  - {{ name: ci, key: s3cr3t }}\n", "keys[0].key",
            "too short; use at least 16 random characters (`gateway keys create` makes a strong one)");

        Assert.DoesNotContain("s3cr3t", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_KeyMissingItsName_AsksForOne()
        => Single($"{ProviderAndModel}\nkeys:\n  - {{ key: {Key} }}\n", "keys[0].name", "missing; every key needs a name");

    [Fact]
    public void Parse_BadKeyName_GivesTheRule()
        => Single($"{ProviderAndModel}\nkeys:\n  - {{ name: \"ci bot\", key: {Key} }}\n", "keys[0].name", "'ci bot' is not a valid key name; use letters, digits");

    [Fact]
    public void Parse_DuplicateKeyNames_PointsAtTheFirst()
        => Single($"{ProviderAndModel}\nkeys:\n  - {{ name: ci, key: {Key} }}\n  - {{ name: ci, key: other-key-0123456789 }}\n", "keys[1].name",
            "'ci' is already the name of keys[0]; names must be unique");

    [Fact]
    public void Parse_SameKeyTwiceAsKeyAndAsHash_PointsAtTheFirst()
        => Single($"{ProviderAndModel}\nkeys:\n  - {{ name: ci, key: {Key} }}\n  - {{ name: ci2, sha256: \"{ApiKeyHasher.HashHex(Key).ToUpperInvariant()}\" }}\n", "keys[1]",
            "is the same key as keys[0]; every key must be unique, so create a new one with `gateway keys create`");

    [Fact]
    public void Parse_KeyAllowedAnUnknownModel_ListsTheModels()
        => Single($"{ProviderAndModel}\nkeys:\n  - {{ name: ci, key: {Key}, models: [gpt-4o, gpt-5] }}\n", "keys[0].models[1]",
            "unknown model 'gpt-5'; use one of: gpt-4o, or leave models out to allow all");

    [Fact]
    public void Parse_OverlongKey_IsRejected()
        => Single($"{ProviderAndModel}\nkeys:\n  - {{ name: ci, key: {new string('k', 513)} }}\n", "keys[0].key", "too long; use at most 512 characters");

    // services

    [Theory]
    [InlineData("router", "router:8081")]
    [InlineData("guard", "ftp://guard:8081")]
    [InlineData("budget", "http://")]
    [InlineData("prompts", "prompts")]
    public void Parse_BadServiceAddress_ShowsTheForm(string service, string address)
        => Single($"{ProviderAndModel}\nservices:\n  {service}: \"{address}\"\n", $"services.{service}",
            "expected the service's gRPC address such as http://router:8081 (https:// for TLS), or leave it out to host the service in this process");

    [Fact]
    public void Parse_GoodServiceAddresses_AreAccepted()
    {
        var config = ConfigLoader.Parse($"{ProviderAndModel}\nservices:\n  router: http://router:8081\n  guard: https://guard.internal:443\n", NoEnvironment);

        Assert.Equal("http://router:8081", config.Services.Router);
        Assert.Null(config.Services.Budget);
    }

    [Theory]
    [InlineData("topics: { audit-log: x }", "services.topics.audit-log", "unknown event; name one of: ")]
    [InlineData("topics: { traces: \"bad topic\" }", "services.topics.traces", "use a topic name made of")]
    [InlineData("dedup_window_seconds: 0", "services.dedup_window_seconds", "use 1 to 86400 seconds")]
    [InlineData("request_timeout_seconds: 0", "services.request_timeout_seconds", "use more than 0 and at most 3600 seconds")]
    [InlineData("tls: { ca: /nonexistent/ca.pem }", "services.tls.ca", "no such file '/nonexistent/ca.pem'")]
    public void Parse_BadMeshSettings_NameTheKey(string line, string path, string phrase)
        => Single($"{ProviderAndModel}\nservices:\n  {line}\n", path, phrase);

    [Fact]
    public void Parse_ServerTlsWithoutKey_NamesBothKeys()
    {
        var errors = ErrorsOf($"{ProviderAndModel}\nserver:\n  tls: {{ cert: /nonexistent/tls.crt }}\n");

        Assert.Equal(["server.tls.cert", "server.tls.key"], errors.Select(e => e.Path).Order(StringComparer.Ordinal));
        Assert.Contains(errors, e => e.Message.Contains("no such file", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Message.Contains("required: the path of a PEM file", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_MeshSettings_Bind()
    {
        var config = ConfigLoader.Parse($"{ProviderAndModel}\nservices:\n  pubsub: pubsub\n  topics: {{ traces: gateway-traces }}\n  dead_letter_topic: dead\n  request_timeout_seconds: 30\n", NoEnvironment);

        Assert.Equal("gateway-traces", config.Services.TopicFor("traces"));
        Assert.Equal("budget-usage", config.Services.TopicFor("budget-usage"));
        Assert.Equal("dead", config.Services.DeadLetterTopic);
        Assert.Equal(30, config.Services.RequestTimeoutSeconds);
    }
}
