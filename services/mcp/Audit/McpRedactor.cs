using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Gateway.Common.Configuration;
using ModelContextProtocol.Protocol;

namespace Gateway.Mcp.Audit;

// Keeps secrets out of the audit log and out of tool results: configured argument names are masked, and
// values that look like credentials (provider keys, cloud keys, tokens, private keys) are replaced.
public sealed partial class McpRedactor(ConfigMonitor config)
{
    private const int MaximumAuditArguments = 8 * 1024;

    public string Arguments(IDictionary<string, JsonElement>? arguments)
    {
        if (arguments is null || arguments.Count == 0)
        {
            return "{}";
        }
        var names = config.Current.Mcp.RedactArguments;
        var node = JsonSerializer.SerializeToNode(arguments)!;
        Mask(node, names);
        var text = Secrets(node.ToJsonString());
        return text.Length <= MaximumAuditArguments ? text : text[..MaximumAuditArguments] + "…";
    }

    public CallToolResult Result(CallToolResult result)
    {
        var changed = false;
        var content = new List<ContentBlock>(result.Content.Count);
        foreach (var block in result.Content)
        {
            if (block is TextContentBlock text && Secrets(text.Text) is var clean && !ReferenceEquals(clean, text.Text) && clean != text.Text)
            {
                content.Add(new TextContentBlock { Text = clean, Annotations = text.Annotations, Meta = text.Meta });
                changed = true;
            }
            else
            {
                content.Add(block);
            }
        }
        return changed
            ? new CallToolResult { Content = content, IsError = result.IsError, StructuredContent = result.StructuredContent, Meta = result.Meta }
            : result;
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

    public static string Secrets(string text) => SecretPattern().Replace(text, "[REDACTED]");

    [GeneratedRegex(@"(sk-(ant-|proj-)?[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|xox[abpr]-[A-Za-z0-9-]{10,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}|-----BEGIN [A-Z ]*PRIVATE KEY-----)")]
    private static partial Regex SecretPattern();
}
