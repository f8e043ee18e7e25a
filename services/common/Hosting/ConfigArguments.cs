using Gateway.Common.Configuration;

namespace Gateway.Common.Hosting;

// `--config PATH` on every service's command line; an invalid file ends the process before it listens.
public static class ConfigArguments
{
    public const int InvalidConfigurationExitCode = 2;

    public static string? PathFrom(string[] args)
    {
        for (var i = 0; i < args.Length - 1; i++)
        {
            if (args[i] is "--config" or "-c")
            {
                return args[i + 1];
            }
        }
        return Environment.GetEnvironmentVariable("GATEWAY_CONFIG");
    }

    public static (GatewayConfig Config, string? Path) LoadOrExit(string[] args)
    {
        var path = PathFrom(args);
        if (path is null)
        {
            Console.Error.WriteLine("No configuration given. Start with --config PATH (for example --config deploy/local/gateway.yaml).");
            Environment.Exit(InvalidConfigurationExitCode);
        }
        try
        {
            return (ConfigLoader.Load(path), path);
        }
        catch (ConfigException e)
        {
            Console.Error.WriteLine($"{path}: {e.Message}");
            Environment.Exit(InvalidConfigurationExitCode);
            throw;
        }
    }
}
