using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace Gateway.Mcp.Catalog;

// Tool-poisoning defences applied at discovery: a scan of everything a model will read about a tool (name,
// title, description, schemas) for instruction-injection patterns, and a fingerprint of the definition so a
// silent change after approval (a "rug pull") is noticed.
public static partial class ToolScanner
{
    private static readonly (string Name, Regex Pattern)[] Patterns =
    [
        ("ignore-instructions", IgnoreInstructions()),
        ("hidden-directive-tag", DirectiveTag()),
        ("conceal-from-user", ConcealFromUser()),
        ("credential-path", CredentialPath()),
        ("exfiltration", Exfiltration()),
        ("system-prompt", SystemPrompt()),
        ("cross-tool-instruction", CrossTool()),
    ];

    public static IReadOnlyList<string> Scan(Tool tool)
    {
        var text = new StringBuilder()
            .Append(tool.Name).Append('\n')
            .Append(tool.Title).Append('\n')
            .Append(tool.Description).Append('\n')
            .Append(tool.InputSchema.GetRawText()).Append('\n')
            .Append(tool.OutputSchema?.GetRawText())
            .ToString();
        var findings = new List<string>();
        foreach (var (name, pattern) in Patterns)
        {
            if (pattern.IsMatch(text))
            {
                findings.Add(name);
            }
        }
        // Invisible characters: zero-width, bidi controls and Unicode tag characters hide text from people
        // while models still read it.
        if (text.Any(c => c is '\u200B' or '\u200C' or '\u200D' or '\u2060' or '\uFEFF' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069'))
            || text.Contains("\uDB40", StringComparison.Ordinal))
        {
            findings.Add("invisible-characters");
        }
        return findings;
    }

    // SHA-256 over the canonical JSON of what defines the tool for a model.
    public static string Fingerprint(Tool tool)
    {
        var definition = new Tool
        {
            Name = tool.Name,
            Title = tool.Title,
            Description = tool.Description,
            InputSchema = tool.InputSchema,
            OutputSchema = tool.OutputSchema,
            Annotations = tool.Annotations,
        };
        var json = JsonSerializer.SerializeToUtf8Bytes(definition, McpJsonUtilities.DefaultOptions);
        return Convert.ToHexStringLower(SHA256.HashData(json));
    }

    [GeneratedRegex(@"\b(ignore|disregard|forget|override)\b.{0,30}\b(previous|prior|above|all|earlier|other)\b.{0,20}\b(instructions?|prompts?|rules|directions)", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex IgnoreInstructions();

    [GeneratedRegex(@"<\s*(important|system|instructions?|secret|hidden)\s*>", RegexOptions.IgnoreCase)]
    private static partial Regex DirectiveTag();

    [GeneratedRegex(@"\b(do not|don't|never)\b.{0,20}\b(tell|inform|mention|reveal|show|notify)\b.{0,20}\b(the )?user", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex ConcealFromUser();

    [GeneratedRegex(@"(~/\.ssh|id_rsa|id_ed25519|\.aws/credentials|\.env\b|/etc/passwd|\.netrc|mcp\.json)", RegexOptions.IgnoreCase)]
    private static partial Regex CredentialPath();

    [GeneratedRegex(@"\b(send|post|upload|forward|exfiltrate|leak)\b.{0,60}\b(to|into)\b.{0,20}(https?://|webhook|email|the (attacker|following))", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex Exfiltration();

    [GeneratedRegex(@"\b(system prompt|you are now|act as (an? )?(admin|root|developer))\b", RegexOptions.IgnoreCase)]
    private static partial Regex SystemPrompt();

    [GeneratedRegex(@"\b(before|after|instead of) (using|calling) (this|any|the other) tool\b.{0,60}\b(must|always|first)\b", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex CrossTool();
}
