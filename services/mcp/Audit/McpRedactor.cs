using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Common.Configuration;

namespace Gateway.Mcp.Audit;

// The arguments as the audit log keeps them: what the guard let through to the upstream, with the values of
// configured argument names (passwords, tokens) masked as well, and bounded in size.
public sealed class McpRedactor(ConfigMonitor config)
{
    private const int MaximumAuditArguments = 8 * 1024;

    public string Arguments(IDictionary<string, JsonElement>? arguments)
    {
        if (arguments is null || arguments.Count == 0)
        {
            return "{}";
        }
        var node = JsonSerializer.SerializeToNode(arguments)!;
        Mask(node, config.Current.Mcp.RedactArguments);
        var text = node.ToJsonString();
        return text.Length <= MaximumAuditArguments ? text : text[..MaximumAuditArguments] + "…";
    }

    private static void Mask(JsonNode? node, List<string> names)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj.ToArray())
                {
                    if (names.Any(n => key.Contains(n, StringComparison.OrdinalIgnoreCase)))
                    {
                        obj[key] = "***";
                    }
                    else
                    {
                        Mask(value, names);
                    }
                }
                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    Mask(item, names);
                }
                break;
        }
    }
}
