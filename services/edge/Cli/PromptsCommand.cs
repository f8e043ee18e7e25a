using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Common.Hosting;
using Gateway.Prompts;
using Gateway.Prompts.Store;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Edge.Cli;

// `gateway prompts sync --dir DIR --config PATH [--author NAME]`: syncs a folder of prompt files into the
// store named by storage.state (docs/prompts.md). Idempotent: unchanged files create nothing. Running
// gateways pick the changes up within prompts.refresh_milliseconds through the store's change counter.
public static class PromptsCommand
{
    private const string Usage = "usage: gateway prompts sync --dir DIR --config PATH [--author NAME]";

    public static bool TryRun(string[] args, TextWriter output, out int exitCode)
    {
        exitCode = 0;
        if (args.Length < 1 || args[0] != "prompts")
        {
            return false;
        }
        var directory = ServiceHost.Argument(args, "--dir");
        var configPath = ConfigArguments.PathFrom(args);
        if (args.Length < 2 || args[1] != "sync" || directory is null || configPath is null)
        {
            output.WriteLine(Usage);
            exitCode = 2;
            return true;
        }
        try
        {
            exitCode = SyncAsync(ConfigLoader.Load(configPath), directory, ServiceHost.Argument(args, "--author") ?? "sync:" + Environment.UserName, output).GetAwaiter().GetResult();
        }
        catch (ConfigException e)
        {
            output.WriteLine($"{configPath}: {e.Message}");
            exitCode = ConfigArguments.InvalidConfigurationExitCode;
        }
        return true;
    }

    public static async Task<int> SyncAsync(GatewayConfig config, string directory, string author, TextWriter output)
    {
        await using var store = PromptStore.Open(config.Storage.State, TimeProvider.System);
        using var monitor = new ConfigMonitor(config, null, NullLogger<ConfigMonitor>.Instance);
        var catalog = new PromptCatalog(store, monitor, new DiscardEventBus(), TimeProvider.System, NullLogger<PromptCatalog>.Instance);
        try
        {
            var result = await PromptSync.SyncAsync(catalog, directory, author, CancellationToken.None);
            foreach (var line in result.Lines)
            {
                output.WriteLine(line);
            }
            output.WriteLine($"{result.Created} created, {result.Unchanged} unchanged, {result.LabelsMoved} labels moved");
            return 0;
        }
        catch (GatewayException e)
        {
            output.WriteLine($"prompts sync: {e.Message}");
            return 1;
        }
    }
}
