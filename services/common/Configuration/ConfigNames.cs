using System.Text.RegularExpressions;

namespace Gateway.Common.Configuration;

// The shape of names in the configuration. Names end up in URLs, headers, metrics and traces, so they stay plain.
public static partial class ConfigNames
{
    public const string NameRule = "letters, digits, '-', '_' and '.', starting with a letter or digit, at most 64 characters";

    public const string ModelNameRule = "letters, digits, '-', '_', '.', ':' and '/', starting with a letter or digit, at most 128 characters";

    // Provider and key names: `openai`, `ds-prod`, `team_a.batch`.
    public static bool IsName(string value) => NamePattern().IsMatch(value);

    // Model names as clients send them: `gpt-4o`, `gemini-2.5-flash`, `llama3:8b`, `meta-llama/Llama-3-70B`.
    public static bool IsModelName(string value) => ModelNamePattern().IsMatch(value);

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\z")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}\z")]
    private static partial Regex ModelNamePattern();
}
