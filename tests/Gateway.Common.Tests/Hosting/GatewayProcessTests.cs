using System.Diagnostics;
using System.Text.RegularExpressions;
using Gateway.Common.Configuration;
using Gateway.Common.Hosting;
using Gateway.Common.Security;
using Gateway.Edge;
using Gateway.Edge.Cli;

namespace Gateway.Common.Tests.Hosting;

// The built gateway as an operator starts it: `dotnet gateway.dll --config PATH`.
public sealed partial class GatewayProcessTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("gateway-process-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private async Task<(int ExitCode, string Output, string Errors)> RunGatewayAsync(string yaml)
    {
        var config = Path.Combine(_directory, "gateway.yaml");
        await File.WriteAllTextAsync(config, yaml, TestContext.Current.CancellationToken);
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { typeof(EdgeMarker).Assembly.Location, "--config", config },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _directory,
        };
        start.Environment.Remove("GATEWAY_TEST_UNSET");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var errors = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await output, await errors);
    }

    [Fact]
    public async Task Start_InvalidConfig_ExitsWithCode2AndNamesEveryKeyPathOnStderr()
    {
        var (exitCode, output, errors) = await RunGatewayAsync("""
            server:
              admin_key: ${GATEWAY_TEST_UNSET}
            providers:
              openai: { kind: openia, base_url: https://api.openai.com/v1 }
            """);

        Assert.Equal(ConfigArguments.InvalidConfigurationExitCode, exitCode);
        Assert.Contains("Invalid configuration (2 problems):", errors, StringComparison.Ordinal);
        Assert.Contains("server.admin_key (line 2): environment variable GATEWAY_TEST_UNSET is not set; set it, or write ${GATEWAY_TEST_UNSET:-default}", errors, StringComparison.Ordinal);
        Assert.Contains("providers.openai.kind (line 4): unknown provider kind 'openia'; use one of: openai, azure-openai, anthropic, gemini", errors, StringComparison.Ordinal);
        Assert.DoesNotContain("Listening", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_YamlSyntaxError_ExitsWithCode2AndGivesTheLine()
    {
        var (exitCode, _, errors) = await RunGatewayAsync("server:\n  http: 127.0.0.1:8080\n grpc: 127.0.0.1:8081\n");

        Assert.Equal(ConfigArguments.InvalidConfigurationExitCode, exitCode);
        Assert.Contains("not valid YAML at line 3", errors, StringComparison.Ordinal);
    }

    [Fact]
    public void KeysCreate_PrintsAKeyWhoseSha256IsInTheConfigLine()
    {
        var output = new StringWriter();

        Assert.True(KeysCommand.TryRun(["keys", "create", "--name", "ci-bot", "--team", "platform team", "--environment", "prod"], output, out var exitCode));

        Assert.Equal(0, exitCode);
        var text = output.ToString();
        var key = KeyLine().Match(text).Groups["key"].Value;
        var line = ConfigLine().Match(text).Value;
        Assert.StartsWith(ApiKeyHasher.KeyPrefix, key, StringComparison.Ordinal);
        Assert.Equal(46, key.Length);
        Assert.Contains($"sha256: \"{ApiKeyHasher.HashHex(key)}\"", line, StringComparison.Ordinal);
        var configured = Assert.Single(ConfigLoader.Parse($"{Configuration.ConfigAssert.ProviderAndModel}\nkeys:\n{line}\n", Configuration.ConfigAssert.NoEnvironment).Keys);
        Assert.Equal("ci-bot", configured.Name);
        Assert.Equal("platform team", configured.Team);
        Assert.Equal("prod", configured.Environment);
        Assert.Equal(ApiKeyHasher.HashHex(key), configured.Sha256);
    }

    [Fact]
    public void KeysCreate_TwoRuns_MakeDifferentKeys()
    {
        var first = new StringWriter();
        var second = new StringWriter();

        KeysCommand.TryRun(["keys", "create", "--name", "a"], first, out _);
        KeysCommand.TryRun(["keys", "create", "--name", "a"], second, out _);

        Assert.NotEqual(KeyLine().Match(first.ToString()).Value, KeyLine().Match(second.ToString()).Value);
    }

    [Theory]
    [InlineData("keys|create")]
    [InlineData("keys|create|--name|ci bot")]
    [InlineData("keys|delete|--name|ci")]
    [InlineData("keys")]
    public void KeysCreate_BadArguments_PrintsUsageAndExitsWithCode2(string args)
    {
        var output = new StringWriter();

        Assert.True(KeysCommand.TryRun(args.Split('|'), output, out var exitCode));

        Assert.Equal(2, exitCode);
        Assert.Contains("usage: gateway keys create --name NAME", output.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("key: ", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void TryRun_NotAKeysCommand_LeavesItToTheServer()
        => Assert.False(KeysCommand.TryRun(["--config", "gateway.yaml"], new StringWriter(), out _));

    [GeneratedRegex(@"^key: (?<key>\S+)$", RegexOptions.Multiline)]
    private static partial Regex KeyLine();

    [GeneratedRegex(@"^  - \{ name: .* \}$", RegexOptions.Multiline)]
    private static partial Regex ConfigLine();
}
