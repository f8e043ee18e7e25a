using System.Text.Json;

namespace Gateway.Common.Json;

public static class JsonText
{
    // `\uD800` alone is valid JSON syntax but no valid text: it cannot be read as a string nor sent on as UTF-8,
    // and would fail deep in a handler. Only escaped strings can hold one, so only those are decoded. The input
    // must already have parsed as JSON within `maxDepth`.
    public static bool EscapesAreValid(ReadOnlySpan<byte> json, int maxDepth)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = maxDepth });
        while (reader.Read())
        {
            if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueIsEscaped)
            {
                try
                {
                    reader.GetString();
                }
                catch (InvalidOperationException)
                {
                    return false;
                }
            }
        }
        return true;
    }
}
