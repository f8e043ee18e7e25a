using System.Text;
using System.Text.Json;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Router.Pipeline;
using Gateway.Router.Providers;
using Gateway.Router.Providers.Anthropic;
using Gateway.Router.Providers.Bedrock;
using Gateway.Router.Providers.Gemini;
using Gateway.Router.Providers.OpenAI;

namespace Gateway.Fuzz;

// The hand-written parsers, each fed arbitrary bytes as the gateway would feed them. Every target lets
// through only the typed error its caller maps to a clear answer (GatewayException, InvalidDataException,
// JsonException from an upstream event, ConfigException); anything else escapes and is a crash.
public static class FuzzTargets
{
    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>
    {
        ["sse"] = bytes => Drain(SseEvents(bytes)),
        ["json-chat"] = JsonChat,
        ["json-anthropic"] = JsonAnthropic,
        ["anthropic-sse"] = AnthropicSse,
        ["gemini-sse"] = GeminiSse,
        ["bedrock-eventstream"] = BedrockEventStream,
        ["yaml-config"] = YamlConfig,
    };

    public static void Run(string target, byte[] input)
    {
        try
        {
            All[target](input);
        }
        catch (Exception e) when (IsTyped(e))
        {
            // The parser refused the input the way the gateway expects it to.
        }
    }

    private static bool IsTyped(Exception e) => e is GatewayException or InvalidDataException or ConfigException;

    private static List<SseEvent> SseEvents(byte[] bytes)
        => Sync(async () =>
        {
            var events = new List<SseEvent>();
            await foreach (var sse in SseReader.ReadAsync(new MemoryStream(bytes), CancellationToken.None))
            {
                events.Add(sse);
            }
            return events;
        });

    private static void JsonChat(byte[] bytes)
    {
        using var document = ClientJson(bytes);
        if (document is null)
        {
            return;
        }
        var request = OpenAiChatCodec.ReadRequest(document.RootElement, out _);
        RequestLimits.Check(request);
        // What the provider adapter sends on must itself be JSON the codec reads back.
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            OpenAiChatCodec.WriteRequest(writer, request, request.Model, stream: false);
        }
        using var sent = JsonDocument.Parse(buffer.ToArray());
    }

    private static void JsonAnthropic(byte[] bytes)
    {
        using var document = ClientJson(bytes);
        if (document is null)
        {
            return;
        }
        RequestLimits.Check(AnthropicCodec.ReadRequest(document.RootElement, out _));
    }

    private static void AnthropicSse(byte[] bytes)
    {
        var decoder = new AnthropicStreamDecoder("fuzz", 0);
        foreach (var sse in SseEvents(bytes))
        {
            using var data = UpstreamJson(sse.Data);
            if (data is not null)
            {
                decoder.Read(sse.Event, data.RootElement);
            }
        }
    }

    private static void GeminiSse(byte[] bytes)
    {
        var stream = new GeminiStream(0, "gemini-fuzz");
        foreach (var sse in SseEvents(bytes))
        {
            using var data = UpstreamJson(sse.Data);
            if (data is not null)
            {
                stream.Read(data.RootElement);
            }
        }
        stream.UsageChunk();
    }

    private static void BedrockEventStream(byte[] bytes)
    {
        var stream = new BedrockStream("id", "model", 0);
        var messages = Sync(async () =>
        {
            var list = new List<EventStreamMessage>();
            await foreach (var message in EventStreamReader.ReadAsync(new MemoryStream(bytes), CancellationToken.None))
            {
                list.Add(message);
            }
            return list;
        });
        foreach (var message in messages)
        {
            using var data = UpstreamJson(Encoding.UTF8.GetString(message.Payload.Span));
            if (data is not null)
            {
                stream.Read(message.Header(":event-type") ?? "", data.RootElement);
            }
        }
    }

    private static void YamlConfig(byte[] bytes) => ConfigLoader.Parse(Encoding.UTF8.GetString(bytes), _ => null);

    // A client body as the edge reads it: UTF-8 and JSON within the default depth, else refused (400).
    private static JsonDocument? ClientJson(byte[] bytes)
    {
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            return null;
        }
        try
        {
            var document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64 });
            if (Common.Json.JsonText.EscapesAreValid(bytes, 64))
            {
                return document;
            }
            document.Dispose();
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    // An upstream event's JSON: the provider adapters turn a parse failure into an upstream error.
    private static JsonDocument? UpstreamJson(string data)
    {
        try
        {
            return JsonDocument.Parse(data);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static void Drain<T>(List<T> items) => GC.KeepAlive(items);

    // The readers are async over a MemoryStream, which completes synchronously.
    private static T Sync<T>(Func<Task<T>> run) => run().GetAwaiter().GetResult();
}
