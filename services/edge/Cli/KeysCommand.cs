using System.Text;
using Gateway.Common.Configuration;
using Gateway.Common.Hosting;
using Gateway.Common.Security;

namespace Gateway.Edge.Cli;

// `gateway keys create --name NAME [--team T] [--project P] [--environment E] [--user U]`: makes a strong
// key, prints it once, and prints the config line that holds only its SHA-256.
public static class KeysCommand
{
    private const string Usage = "usage: gateway keys create --name NAME [--team T] [--project P] [--environment E] [--user U]";

    public static bool TryRun(string[] args, TextWriter output, out int exitCode)
    {
        exitCode = 0;
        if (args.Length < 1 || args[0] != "keys")
        {
            return false;
        }
        if (args.Length < 2 || args[1] != "create")
        {
            output.WriteLine(Usage);
            exitCode = 2;
            return true;
        }
        var name = ServiceHost.Argument(args, "--name");
        if (name is null || !ConfigNames.IsName(name))
        {
            output.WriteLine($"keys create: --name is required and uses {ConfigNames.NameRule}");
            output.WriteLine(Usage);
            exitCode = 2;
            return true;
        }
        var key = ApiKeyHasher.NewKey();
        var line = new StringBuilder($"  - {{ name: {name}, sha256: \"{ApiKeyHasher.HashHex(key)}\"");
        foreach (var field in new[] { "team", "project", "environment", "user" })
        {
            if (ServiceHost.Argument(args, "--" + field) is { Length: > 0 } value)
            {
                line.Append($", {field}: {Quote(value)}");
            }
        }
        line.Append(" }");
        output.WriteLine($"key: {key}");
        output.WriteLine("(shown once: the gateway stores only its hash)");
        output.WriteLine("add under `keys:` in the configuration:");
        output.WriteLine(line.ToString());
        return true;
    }

    // Plain names stay bare; anything else becomes a double-quoted YAML string.
    private static string Quote(string value)
        => ConfigNames.IsName(value) ? value : "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
