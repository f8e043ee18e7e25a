using Gateway.Common.Configuration;
using Gateway.Common.Security;
using Microsoft.Extensions.Logging.Abstractions;
using static Gateway.Common.Tests.Configuration.ConfigAssert;

namespace Gateway.Common.Tests.Security;

public sealed class KeyAuthenticatorTests : IDisposable
{
    private const string CiKey = "ci-key-0123456789abcdef";
    private const string BotKey = "bot-key-0123456789abcdef";

    private readonly string _directory = Directory.CreateTempSubdirectory("gateway-keys-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static string Config(string keys) => ProviderAndModel + "\n  gpt-4o-mini:\n    targets: [{ provider: openai, model: gpt-4o-mini }]\nkeys:\n" + keys;

    private static readonly string Keys = Config($$"""
          - { name: ci, key: "{{CiKey}}", team: qa, project: gateway, environment: test, user: alice, roles: [admin], models: [gpt-4o] }
          - { name: bot, sha256: "{{ApiKeyHasher.HashHex(BotKey)}}", team: platform }
        """);

    private KeyAuthenticator Authenticator(string yaml, out ConfigMonitor monitor)
    {
        var path = Path.Combine(_directory, "gateway.yaml");
        File.WriteAllText(path, yaml);
        monitor = new ConfigMonitor(ConfigLoader.Load(path, NoEnvironment), path, NullLogger<ConfigMonitor>.Instance, NoEnvironment);
        return new KeyAuthenticator(monitor);
    }

    [Fact]
    public void Authenticate_InlineKey_ReturnsItsPrincipal()
    {
        var authenticator = Authenticator(Keys, out var monitor);
        using var _ = monitor;

        var principal = authenticator.Authenticate(CiKey);

        Assert.NotNull(principal);
        Assert.Equal("ci", principal.KeyName);
        Assert.Equal("qa", principal.Team);
        Assert.Equal("gateway", principal.Project);
        Assert.Equal("test", principal.Environment);
        Assert.Equal("alice", principal.User);
        Assert.Equal(["admin"], principal.Roles);
        Assert.Equal(["gpt-4o"], principal.AllowedModels);
    }

    [Fact]
    public void Authenticate_KeyConfiguredBySha256_ReturnsItsPrincipal()
    {
        var authenticator = Authenticator(Keys, out var monitor);
        using var _ = monitor;

        var principal = authenticator.Authenticate(BotKey);

        Assert.Equal("bot", principal?.KeyName);
        Assert.Equal("platform", principal?.Team);
        Assert.Empty(principal!.AllowedModels);
    }

    [Theory]
    [InlineData("")]
    [InlineData("ci-key-0123456789abcdeF")]
    [InlineData("ci-key-0123456789abcdef ")]
    [InlineData("ci-key-0123456789abcde")]
    public void Authenticate_WrongOrEmptyKey_ReturnsNull(string presented)
    {
        var authenticator = Authenticator(Keys, out var monitor);
        using var _ = monitor;

        Assert.Null(authenticator.Authenticate(presented));
    }

    [Fact]
    public void Authenticate_OverlongKey_ReturnsNull()
    {
        var authenticator = Authenticator(Keys, out var monitor);
        using var _ = monitor;

        Assert.Null(authenticator.Authenticate(CiKey + new string('x', KeyAuthenticator.MaximumKeyLength)));
    }

    [Fact]
    public void Authenticate_AfterReload_UsesTheNewKeys()
    {
        var authenticator = Authenticator(Keys, out var monitor);
        using var _ = monitor;
        Assert.NotNull(authenticator.Authenticate(CiKey));

        File.WriteAllText(Path.Combine(_directory, "gateway.yaml"), Config($"  - {{ name: bot, key: \"{BotKey}\", team: moved }}\n"));
        Assert.True(monitor.Reload());

        Assert.Null(authenticator.Authenticate(CiKey));
        Assert.Equal("moved", authenticator.Authenticate(BotKey)?.Team);
    }
}
