using System.Buffers;
using System.Text;
using System.Text.Json;
using Gateway.Router.Providers;

namespace Gateway.Router.Tests.Anthropic;

// Renders codec output as compact JSON text, and normalises expected JSON the same way, so golden tests
// compare exact wire text (property order included) without caring about the expected literal's layout.
internal static class AnthropicJson
{
    public static string Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, ProviderHttp.WriterOptions))
        {
            write(writer);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static string Compact(string json)
    {
        using var document = JsonDocument.Parse(json);
        return Write(document.RootElement.WriteTo);
    }

    public static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
