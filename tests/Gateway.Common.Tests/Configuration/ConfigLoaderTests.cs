using Gateway.Common.Configuration;
using Gateway.Common.Security;
using static Gateway.Common.Tests.Configuration.ConfigAssert;

namespace Gateway.Common.Tests.Configuration;

public sealed class ConfigLoaderTests
{
    [Fact]
    public void Load_ShippedLocalConfigWithNoEnvironment_IsValid()
    {
        var path = Path.Combine(RepositoryRoot(), "deploy", "local", "gateway.yaml");

        var config = ConfigLoader.Load(path, NoEnvironment);

        Assert.Equal("127.0.0.1:8080", config.Server.Http);
        Assert.Null(config.Server.AdminKey);
        Assert.Null(config.Providers["openai"].ApiKey);
        Assert.Contains("gpt-4o", config.Models.Keys);
        var key = Assert.Single(config.Keys);
        Assert.Equal(ApiKeyHasher.HashHex("local-dev-key-change-me"), key.Sha256);
    }

    [Fact]
    public void Parse_ArchitectureSketch_IsValid()
    {
        // ARCHITECTURE.md §3 as written (with a real hash in place of its elided one).
        var config = ConfigLoader.Parse($$"""
            server:
              http: 127.0.0.1:8080            # REST edge, admin API, dashboard, /mcp
              grpc: 127.0.0.1:8081            # gRPC API (h2c)
              admin_key: ${GATEWAY_ADMIN_KEY}
            storage:
              state: sqlite://./data/state.db     # or postgres://user:pass@host/db
              traces: sqlite://./data/traces.db   # or clickhouse://user:pass@host:8123/db
              # redis: redis://127.0.0.1:6379     # counters shared by several replicas

            providers:
              openai:    { kind: openai,       base_url: https://api.openai.com/v1, api_key: ${OPENAI_API_KEY} }
              anthropic: { kind: anthropic,    base_url: https://api.anthropic.com, api_key: ${ANTHROPIC_API_KEY} }
              gemini:    { kind: gemini,       base_url: https://generativelanguage.googleapis.com, api_key: ${GEMINI_API_KEY} }
              azure:     { kind: azure-openai, base_url: https://example.openai.azure.com, api_key: ${AZURE_OPENAI_KEY}, api_version: "2024-10-21" }
              onprem:    { kind: openai,       base_url: http://vllm.internal:8000/v1, residency: self-hosted }

            models:                            # the names clients use
              gpt-4o:
                targets:
                  - { provider: openai, model: gpt-4o, weight: 80 }
                  - { provider: azure,  model: gpt-4o-prod, weight: 20 }
                fallbacks: [claude-sonnet-4]
                price: { input: 2.50, output: 10.00 }   # USD per million tokens
              claude-sonnet-4:
                targets: [{ provider: anthropic, model: claude-sonnet-4-20250514 }]
                price: { input: 3.00, output: 15.00 }
              llama-3-70b:
                targets: [{ provider: onprem, model: meta-llama/Meta-Llama-3-70B-Instruct }]
                price: { input: 0, output: 0 }

            keys:                              # gateway keys; stored and compared as SHA-256
              - { name: ds-prod, sha256: "{{ApiKeyHasher.HashHex("ds-prod-key-0123456789")}}", team: data-science, project: churn, environment: prod }
              - { name: ds-dev,  key: ${DS_DEV_KEY}, team: data-science, project: churn, environment: dev, user: alice }
            """, name => $"{name.ToLowerInvariant()}-value-0123456789");

        Assert.Equal("openai_api_key-value-0123456789", config.Providers["openai"].ApiKey);
        Assert.Equal([80, 20], config.Models["gpt-4o"].Targets.Select(t => t.Weight));
        Assert.Equal(ApiKeyHasher.HashHex("ds_dev_key-value-0123456789"), config.Keys[1].Sha256);
        Assert.Equal("alice", config.Keys[1].User);
    }

    [Fact]
    public void Parse_InlineKey_KeepsOnlyItsHash()
    {
        var config = ConfigLoader.Parse(ProviderAndModel + "\nkeys:\n  - { name: ci, key: \"${CI_KEY}\", team: qa }\n",
            name => name == "CI_KEY" ? "ci-key-from-env-0123456789" : null);

        var key = Assert.Single(config.Keys);
        Assert.Null(key.Key);
        Assert.Equal(ApiKeyHasher.HashHex("ci-key-from-env-0123456789"), key.Sha256);
        Assert.DoesNotContain("ci-key-from-env", config.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UppercaseSha256_IsStoredLowercase()
    {
        var hash = ApiKeyHasher.HashHex("some-key-0123456789");

        var config = ConfigLoader.Parse($"{ProviderAndModel}\nkeys:\n  - {{ name: ci, sha256: \"{hash.ToUpperInvariant()}\" }}\n", NoEnvironment);

        Assert.Equal(hash, Assert.Single(config.Keys).Sha256);
    }

    [Theory]
    [InlineData(null, "fallback-admin-key-0123")]
    [InlineData("", "fallback-admin-key-0123")]
    [InlineData("admin-key-from-env-0123", "admin-key-from-env-0123")]
    public void Parse_VariableWithDefault_UsesTheVariableWhenSetElseTheDefault(string? value, string expected)
    {
        var config = ConfigLoader.Parse(ProviderAndModel + "\nserver:\n  admin_key: ${ADMIN_KEY:-fallback-admin-key-0123}\n", _ => value);

        Assert.Equal(expected, config.Server.AdminKey);
    }

    [Fact]
    public void Parse_VariableInsideText_IsReplacedInPlace()
    {
        var config = ConfigLoader.Parse("providers:\n  vllm: { kind: openai, base_url: \"http://${VLLM_HOST}:8000/v1\" }\n", name => name == "VLLM_HOST" ? "10.0.0.7" : null);

        Assert.Equal("http://10.0.0.7:8000/v1", config.Providers["vllm"].BaseUrl);
    }

    [Fact]
    public void Parse_EmptyOptionalText_CountsAsUnset()
    {
        var config = ConfigLoader.Parse(ProviderAndModel.Replace("base_url:", "api_key: \"${OPENAI_API_KEY:-}\", base_url:", StringComparison.Ordinal) + "\nserver:\n  admin_key: \"\"\n", NoEnvironment);

        Assert.Null(config.Providers["openai"].ApiKey);
        Assert.Null(config.Server.AdminKey);
    }

    [Fact]
    public void Parse_KeyWithoutValue_KeepsTheDefault()
    {
        var config = ConfigLoader.Parse(ProviderAndModel.Replace("base_url:", "timeout_seconds: ~, base_url:", StringComparison.Ordinal) + "\nserver:\n  http:\nstorage:\n", NoEnvironment);

        Assert.Equal(120, config.Providers["openai"].TimeoutSeconds);
        Assert.Equal("127.0.0.1:8080", config.Server.Http);
        Assert.Equal("sqlite://./data/state.db", config.Storage.State);
    }

    [Fact]
    public void Parse_AnchorsAndAliases_AreResolved()
    {
        var config = ConfigLoader.Parse("""
            providers:
              openai: { kind: openai, base_url: https://api.openai.com/v1 }
            models:
              gpt-4o:
                targets: &gpt4o [{ provider: openai, model: gpt-4o }]
                price: &price { input: 2.5, output: 10 }
              gpt-4o-latest:
                targets: *gpt4o
                price: *price
            """, NoEnvironment);

        Assert.Equal("gpt-4o", Assert.Single(config.Models["gpt-4o-latest"].Targets).Model);
        Assert.Equal(10m, config.Models["gpt-4o-latest"].Price!.Output);
    }

    [Fact]
    public void Parse_ManyProblems_ReportsAllInOnePassWithoutKnockOnErrors()
    {
        var errors = ErrorsOf("""
            server:
              http: localhost
            providers:
              openai: { kind: openia, base_url: https://api.openai.com/v1, timeout_secs: 5 }
            models:
              gpt-4o:
                targets: [{ provider: openai, model: gpt-4o, weight: heavy }]
                fallbacks: [gpt-5]
            keys:
              - { name: ci, key: short }
              - { name: ci, sha256: abc }
              - { name: env, key: "${UNSET_KEY}" }
            """);

        Assert.Equal(
            [
                "providers.openai.timeout_secs",
                "models.gpt-4o.targets[0].weight",
                "keys[2].key",
                "server.http",
                "providers.openai.kind",
                "models.gpt-4o.fallbacks[0]",
                "keys[0].key",
                "keys[1].name",
                "keys[1].sha256",
            ],
            errors.Select(e => e.Path));
        Assert.Equal([4, 7, 12, 2, 4, 8, 10, 11, 11], errors.Select(e => e.Line));
    }

    [Fact]
    public void Parse_SecretsFromTheEnvironmentInInvalidPlaces_NeverAppearInMessages()
    {
        const string secret = "sk-live-TOPSECRET-0123456789";
        var environment = (string name) => name switch
        {
            "SECRET" => secret,
            "SHORT" => "Zq9xY",
            "NEWLINE" => "sk-live-NEWLINE-SECRET-0123\n",
            _ => null,
        };

        var exception = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("""
            server:
              http: ${SECRET}
              grpc: "${SECRET}:8081"
              admin_key: ${SHORT}
              max_json_depth: ${SECRET}
            storage:
              state: postgres://app:${SECRET}@/db
              traces: ${SECRET}
              redis: ${SECRET}
            providers:
              openai: { kind: "${SECRET}", base_url: "${SECRET}", api_key: "${NEWLINE}", residency: "${SECRET} x" }
            models:
              gpt-4o:
                targets: [{ provider: "${SECRET}", model: "${SECRET} x", weight: "${SECRET}" }]
                fallbacks: ["${SECRET}"]
            keys:
              - { name: "${SECRET}!", key: "${SHORT}", models: ["${SECRET}"] }
              - { name: other, key: "${NEWLINE}" }
            services:
              router: ${SECRET}
            """, environment));

        Assert.True(exception.Errors.Count >= 15, exception.Message);
        Assert.DoesNotContain("TOPSECRET", exception.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("NEWLINE-SECRET", exception.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Zq9xY", exception.Message, StringComparison.Ordinal);
        Assert.Contains("'${SECRET}'", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ConfigException_Message_ListsEveryErrorWithPathAndLine()
    {
        var exception = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(Provider + "\nmodels:\n  gpt-4o:\n    targets: [{ provider: opena, model: gpt-4o }]\n", NoEnvironment));

        Assert.Equal(
            "Invalid configuration (1 problem):" + Environment.NewLine
            + "  - models.gpt-4o.targets[0].provider (line 5): unknown provider 'opena'; use one of: openai, or add it under providers",
            exception.Message);
    }

    [Fact]
    public void Load_MissingFile_SaysWhichPathToCheck()
    {
        var error = Assert.Single(Assert.Throws<ConfigException>(() => ConfigLoader.Load("/nonexistent/gateway.yaml")).Errors);

        Assert.Equal("", error.Path);
        Assert.Contains("cannot read the configuration file '/nonexistent/gateway.yaml'", error.Message, StringComparison.Ordinal);
        Assert.Contains("check the path given to --config", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToString_ConfigWithSecrets_MasksThem()
    {
        var config = ConfigLoader.Parse("""
            server:
              admin_key: admin-key-0123456789-secret
            storage:
              state: postgres://app:hunter2@db:5432/gateway
            providers:
              openai: { kind: openai, base_url: https://api.openai.com/v1, api_key: sk-proj-secret-value }
            models:
              gpt-4o:
                targets: [{ provider: openai, model: gpt-4o }]
            """, NoEnvironment);

        var text = config.ToString() + config.Server + config.Storage + config.Providers["openai"];

        Assert.DoesNotContain("admin-key-0123456789-secret", text, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", text, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-proj-secret-value", text, StringComparison.Ordinal);
        Assert.Contains("ApiKey = ***", text, StringComparison.Ordinal);
        Assert.Contains("State = postgres://***", text, StringComparison.Ordinal);
    }

    internal static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Gateway.sln")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException($"No Gateway.sln above {AppContext.BaseDirectory}.");
    }
}
