using System.Buffers;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Gateway.Contracts.Inference.V1;
using Gateway.Router.Providers.Anthropic;
using Gateway.Router.Providers.Gemini;
using Gateway.Router.Providers.OpenAI;

namespace Gateway.Benchmarks;

// Wire-format work on every request: parsing a client's OpenAI body (1 KB prompt, one tool) into the neutral
// request, writing it for each provider, reading each provider's answer back, and translating one streamed
// event per provider into the neutral chunk and out again as an OpenAI SSE chunk.
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private static readonly string Prompt = string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 23));

    private static readonly byte[] ClientBody = Encoding.UTF8.GetBytes($$$$"""
        {"model":"gpt-4o","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"{{{{Prompt}}}}"}],
         "max_tokens":64,"temperature":0.2,
         "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather for a city",
           "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]}
        """);

    private static readonly byte[] OpenAiAnswer = Encoding.UTF8.GetBytes("""
        {"id":"chatcmpl-1","object":"chat.completion","created":1730000000,"model":"gpt-4o-2024-08-06",
         "choices":[{"index":0,"message":{"role":"assistant","content":"Ducks are birds."},"finish_reason":"stop"}],
         "usage":{"prompt_tokens":260,"completion_tokens":5,"total_tokens":265}}
        """);

    private static readonly byte[] AnthropicAnswer = Encoding.UTF8.GetBytes("""
        {"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4","content":[{"type":"text","text":"Ducks are birds."}],
         "stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":260,"output_tokens":5}}
        """);

    private static readonly byte[] GeminiAnswer = Encoding.UTF8.GetBytes("""
        {"candidates":[{"content":{"role":"model","parts":[{"text":"Ducks are birds."}]},"finishReason":"STOP","index":0}],
         "usageMetadata":{"promptTokenCount":260,"candidatesTokenCount":5,"totalTokenCount":265},"modelVersion":"gemini-2.5-flash"}
        """);

    private static readonly byte[] OpenAiDelta = Encoding.UTF8.GetBytes("""
        {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Ducks"},"finish_reason":null}]}
        """);

    private static readonly byte[] AnthropicDelta = Encoding.UTF8.GetBytes("""
        {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Ducks"}}
        """);

    private static readonly byte[] GeminiDelta = Encoding.UTF8.GetBytes("""
        {"candidates":[{"content":{"role":"model","parts":[{"text":"Ducks"}]},"index":0}],"modelVersion":"gemini-2.5-flash"}
        """);

    private readonly ArrayBufferWriter<byte> _buffer = new(4096);
    private ChatRequest _request = null!;
    private ChatChunk _chunk = null!;
    private AnthropicStreamDecoder _anthropic = null!;

    [GlobalSetup]
    public void Setup()
    {
        _request = ParseClientRequest();
        _chunk = OpenAiSseIn();
        // The decoder expects the message_start that opens every Anthropic stream.
        _anthropic = new AnthropicStreamDecoder("anthropic", 1730000000);
        using var start = JsonDocument.Parse("""{"type":"message_start","message":{"id":"msg_1","model":"claude-sonnet-4","usage":{"input_tokens":260,"output_tokens":1}}}""");
        _anthropic.Read("message_start", start.RootElement);
    }

    [Benchmark(Baseline = true)]
    public ChatRequest ParseClientRequest()
    {
        using var document = JsonDocument.Parse(ClientBody);
        return OpenAiChatCodec.ReadRequest(document.RootElement, out _);
    }

    [Benchmark]
    public int WriteOpenAiRequest() => Write(w => OpenAiChatCodec.WriteRequest(w, _request, "gpt-4o", stream: false));

    [Benchmark]
    public int WriteAnthropicRequest() => Write(w => AnthropicCodec.WriteRequest(w, _request, "claude-sonnet-4", stream: false));

    [Benchmark]
    public int WriteGeminiRequest() => Write(w => GeminiCodec.WriteRequest(w, _request));

    [Benchmark]
    public int OpenAiResponseRoundTrip()
    {
        using var document = JsonDocument.Parse(OpenAiAnswer);
        var response = OpenAiChatCodec.ReadResponse(document.RootElement);
        return Write(w => OpenAiChatCodec.WriteResponse(w, response));
    }

    [Benchmark]
    public ChatResponse ReadAnthropicResponse()
    {
        using var document = JsonDocument.Parse(AnthropicAnswer);
        return AnthropicCodec.ReadResponse(document.RootElement);
    }

    [Benchmark]
    public ChatResponse ReadGeminiResponse()
    {
        using var document = JsonDocument.Parse(GeminiAnswer);
        return GeminiCodec.ReadResponse(document.RootElement);
    }

    [Benchmark]
    public ChatChunk OpenAiSseIn()
    {
        using var document = JsonDocument.Parse(OpenAiDelta);
        return OpenAiChatCodec.ReadChunk(document.RootElement);
    }

    [Benchmark]
    public ChatChunk? AnthropicSseIn()
    {
        using var document = JsonDocument.Parse(AnthropicDelta);
        return _anthropic.Read("content_block_delta", document.RootElement);
    }

    [Benchmark]
    public int GeminiSseIn()
    {
        using var document = JsonDocument.Parse(GeminiDelta);
        return new GeminiStream(1730000000, "gemini-2.5-flash").Read(document.RootElement).Count;
    }

    [Benchmark]
    public int OpenAiSseOut() => Write(w => OpenAiChatCodec.WriteChunk(w, _chunk, includeUsage: false));

    private int Write(Action<Utf8JsonWriter> write)
    {
        _buffer.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(_buffer))
        {
            write(writer);
        }
        return _buffer.WrittenCount;
    }
}
