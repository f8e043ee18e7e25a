using Gateway.Common.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using static Gateway.Common.Tests.Configuration.ConfigAssert;

namespace Gateway.Common.Tests.Configuration;

public sealed class ConfigMonitorTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly string _directory = Directory.CreateTempSubdirectory("gateway-config-").FullName;

    private string ConfigPath => Path.Combine(_directory, "gateway.yaml");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private ConfigMonitor Start(string yaml)
    {
        File.WriteAllText(ConfigPath, yaml);
        return new ConfigMonitor(ConfigLoader.Load(ConfigPath, NoEnvironment), ConfigPath, NullLogger<ConfigMonitor>.Instance, NoEnvironment);
    }

    [Fact]
    public async Task FileEdit_Valid_RaisesChangedWithTheNewConfiguration()
    {
        using var monitor = Start(ProviderAndModel);
        var changed = new TaskCompletionSource<GatewayConfig>(TaskCreationOptions.RunContinuationsAsynchronously);
        monitor.Changed += config => changed.TrySetResult(config);

        await File.WriteAllTextAsync(ConfigPath, ProviderAndModel + "\n  gpt-4o-mini:\n    targets: [{ provider: openai, model: gpt-4o-mini }]\n", TestContext.Current.CancellationToken);
        var next = await changed.Task.WaitAsync(Timeout, TestContext.Current.CancellationToken);

        Assert.Contains("gpt-4o-mini", next.Models.Keys);
        Assert.Same(next, monitor.Current);
    }

    [Fact]
    public async Task FileReplacedByRename_RaisesChanged()
    {
        using var monitor = Start(ProviderAndModel);
        var changed = new TaskCompletionSource<GatewayConfig>(TaskCreationOptions.RunContinuationsAsynchronously);
        monitor.Changed += config => changed.TrySetResult(config);

        // How editors and `kubectl cp`-style tools save: write a temporary file, then rename it over the original.
        var temporary = Path.Combine(_directory, "gateway.yaml.tmp");
        await File.WriteAllTextAsync(temporary, ProviderAndModel + "\nkeys:\n  - { name: ci, key: ci-key-0123456789abcdef }\n", TestContext.Current.CancellationToken);
        File.Move(temporary, ConfigPath, overwrite: true);
        var next = await changed.Task.WaitAsync(Timeout, TestContext.Current.CancellationToken);

        Assert.Equal("ci", Assert.Single(next.Keys).Name);
    }

    [Fact]
    public async Task FileEdit_Invalid_RaisesRejectedAndKeepsThePreviousConfiguration()
    {
        using var monitor = Start(ProviderAndModel);
        var before = monitor.Current;
        var rejected = new TaskCompletionSource<ConfigException>(TaskCreationOptions.RunContinuationsAsynchronously);
        monitor.Rejected += error => rejected.TrySetResult(error);
        monitor.Changed += _ => rejected.TrySetException(new InvalidOperationException("an invalid edit was applied"));

        await File.WriteAllTextAsync(ConfigPath, ProviderAndModel.Replace("kind: openai", "kind: openia", StringComparison.Ordinal), TestContext.Current.CancellationToken);
        var error = await rejected.Task.WaitAsync(Timeout, TestContext.Current.CancellationToken);

        Assert.Equal("providers.openai.kind", Assert.Single(error.Errors).Path);
        Assert.Same(before, monitor.Current);
    }

    [Fact]
    public async Task FileEdit_Truncated_IsRejected()
    {
        using var monitor = Start(ProviderAndModel);
        var before = monitor.Current;
        var rejected = new TaskCompletionSource<ConfigException>(TaskCreationOptions.RunContinuationsAsynchronously);
        monitor.Rejected += error => rejected.TrySetResult(error);

        await File.WriteAllTextAsync(ConfigPath, "", TestContext.Current.CancellationToken);
        var error = await rejected.Task.WaitAsync(Timeout, TestContext.Current.CancellationToken);

        Assert.Contains("the configuration is empty", Assert.Single(error.Errors).Message, StringComparison.Ordinal);
        Assert.Same(before, monitor.Current);
    }

    [Fact]
    public void Reload_ServerStorageOrServicesChanged_KeepsTheRunningValuesButAppliesRequestLimits()
    {
        using var monitor = Start(ProviderAndModel + "\nserver:\n  http: 127.0.0.1:8080\n");

        File.WriteAllText(ConfigPath, ProviderAndModel + """

            server:
              http: 127.0.0.1:9090
              max_json_depth: 32
            storage:
              state: postgres://app@db/gateway
            services:
              router: http://router:8081
            """);
        Assert.True(monitor.Reload());

        Assert.Equal("127.0.0.1:8080", monitor.Current.Server.Http);
        Assert.Equal(32, monitor.Current.Server.MaxJsonDepth);
        Assert.Equal("sqlite://./data/state.db", monitor.Current.Storage.State);
        Assert.Null(monitor.Current.Services.Router);
    }

    [Fact]
    public void Reload_WithoutAFile_ReturnsFalse()
    {
        using var monitor = new ConfigMonitor(new GatewayConfig(), null, NullLogger<ConfigMonitor>.Instance);

        Assert.False(monitor.Reload());
    }
}
