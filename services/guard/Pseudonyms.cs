using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Gateway.Guard;

// Puts original values back where a model repeated a placeholder such as <PERSON_1>. In tool-call arguments
// (JSON text) the value is JSON-escaped so the arguments stay valid JSON.
public static partial class Pseudonyms
{
    public const int MaxPlaceholderLength = 72;

    public static string Restore(string text, IReadOnlyDictionary<string, string> map, bool json = false)
    {
        if (map.Count == 0 || text.IndexOf('<') < 0)
        {
            return text;
        }
        return Placeholder().Replace(text, m => map.TryGetValue(m.Value, out var value) ? (json ? Escape(value) : value) : m.Value);
    }

    private static string Escape(string value)
    {
        var encoded = JsonEncodedText.Encode(value, JavaScriptEncoder.UnsafeRelaxedJsonEscaping);
        return encoded.ToString();
    }

    [GeneratedRegex(@"<[A-Z][A-Z0-9_]*_\d+>", RegexOptions.CultureInvariant)]
    private static partial Regex Placeholder();
}

// Restores placeholders in a stream of text pieces. A placeholder can be split across pieces ("<PER", "SON_1>"),
// so a tail that could still become one is held back until the next piece (or Flush) decides it.
public sealed class PseudonymStream(IReadOnlyDictionary<string, string> map, bool json = false)
{
    private readonly StringBuilder _pending = new();

    public string Push(string piece)
    {
        _pending.Append(piece);
        var hold = HoldFrom();
        var ready = _pending.ToString(0, hold);
        _pending.Remove(0, hold);
        return Pseudonyms.Restore(ready, map, json);
    }

    public string Flush()
    {
        var rest = _pending.ToString();
        _pending.Clear();
        return Pseudonyms.Restore(rest, map, json);
    }

    // Where the held-back tail starts: at the last '<' if what follows it is still a placeholder prefix.
    private int HoldFrom()
    {
        var length = _pending.Length;
        for (var i = length - 1; i >= 0 && length - i <= Pseudonyms.MaxPlaceholderLength; i--)
        {
            var c = _pending[i];
            if (c == '<')
            {
                return i;
            }
            if (!(char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c) || c == '_'))
            {
                return length;
            }
        }
        return length;
    }
}
