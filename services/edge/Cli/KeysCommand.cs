using System.Text;
using Gateway.Common.Hosting;
using Gateway.Common.Security;

namespace Gateway.Edge.Cli;

// `gateway keys create --name NAME [--team T] [--project P] [--environment E] [--user U]`: makes a strong
// key, prints it once, and prints the config line that holds only its SHA-256.
public static class KeysCommand
{
    public static bool TryRun(string[] args, TextWriter output, out int exitCode)
    {
        exitCode = 0;
        if (args.Length < 2 || args[0] != "keys")
        {
            return false;
        }
        if (args[1] != "create")
        {
            output.WriteLine("usage: gateway keys create --name NAME [--team T] [--project P] [--environment E] [--user U]");
            exitCode = 2;
            return true;
        }
        var name = ServiceHost.Argument(args, "--name");
        if (string.IsNullOrWhiteSpace(name))
        {
            output.WriteLine("keys create: --name is required");
            exitCode = 2;
            return true;
        }
        var key = ApiKeyHasher.NewKey();
        var line = new StringBuilder($"  - {{ name: {name}, sha256: \"{ApiKeyHasher.HashHex(key)}\"");
        foreach (var field in new[] { "team", "project", "environment", "user" })
        {
            if (ServiceHost.Argument(args, "--" + field) is { Length: > 0 } value)
            {
                line.Append($", {field}: {value}");
            }
        }
        line.Append(" }");
        output.WriteLine($"key: {key}");
        output.WriteLine("(shown once: the gateway stores only its hash)");
        output.WriteLine("add under `keys:` in the configuration:");
        output.WriteLine(line.ToString());
        return true;
    }
}
