using System.Text;
using System.Text.Json;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;
using Gateway.Router.Providers;
using Gateway.Router.Providers.Anthropic;
using static Gateway.Router.Tests.Anthropic.AnthropicJson;

namespace Gateway.Router.Tests.Anthropic;

public sealed class AnthropicStreamTests
{
    private static readonly ProviderTarget Target = new("anthropic", new ProviderConfig { Kind = "anthropic", BaseUrl = "https://api.anthropic.com" }, "claude-sonnet-4-20250514", "claude-sonnet-4");

    // The shape Anthropic sends for a thinking + text + two parallel tool calls answer, with prompt caching.
    private static readonly string[] Recorded =
    [
        "event: message_start",
        """data: {"type":"message_start","message":{"id":"msg_01Rec","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":10,"cache_read_input_tokens":100,"output_tokens":1}}}""",
        "",
        "event: ping",
        """data: {"type": "ping"}""",
        "",
        "event: content_block_start",
        """data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}""",
        "",
        "event: content_block_delta",
        """data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Zwei Städte, "}}""",
        "",
        "event: content_block_delta",
        """data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"zwei Aufrufe."}}""",
        "",
        "event: content_block_delta",
        """data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM"}}""",
        "",
        "event: content_block_stop",
        """data: {"type":"content_block_stop","index":0}""",
        "",
        "event: content_block_start",
        """data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}""",
        "",
        "event: content_block_delta",
        """data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Grüße aus 世界 "}}""",
        "",
        "event: content_block_delta",
        """data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"😀 — checking."}}""",
        "",
        "event: content_block_stop",
        """data: {"type":"content_block_stop","index":1}""",
        "",
        "event: content_block_start",
        """data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01P","name":"get_weather","input":{}}}""",
        "",
        "event: content_block_delta",
        """data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}""",
        "",
        "event: content_block_delta",
        """data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Pa"}}""",
        "",
        "event: content_block_delta",
        """data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"ris\"}"}}""",
        "",
        "event: content_block_stop",
        """data: {"type":"content_block_stop","index":2}""",
        "",
        "event: content_block_start",
        """data: {"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_01B","name":"get_weather","input":{}}}""",
        "",
        "event: content_block_delta",
        """data: {"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Berlin\"}"}}""",
        "",
        "event: content_block_stop",
        """data: {"type":"content_block_stop","index":3}""",
        "",
        "event: message_delta",
        """data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":42}}""",
        "",
        "event: message_stop",
        """data: {"type":"message_stop"}""",
        "",
    ];

    [Fact]
    public async Task ReadStreamAsync_RecordedStreamOneByteAtATimeWithCrlf_YieldsNeutralChunksInOrder()
    {
        var chunks = await ReadAllAsync(string.Join("\r\n", Recorded) + "\r\n");

        var first = chunks[0];
        Assert.Equal(Role.Assistant, first.Choices[0].Delta.Role);
        Assert.Equal(("msg_01Rec", "claude-sonnet-4-20250514", 1_700_000_000L), (first.Id, first.Model, first.Created));
        var deltas = chunks.SelectMany(c => c.Choices).Select(c => c.Delta).ToList();
        Assert.Equal("Grüße aus 世界 😀 — checking.", string.Concat(deltas.Where(d => d.HasContent).Select(d => d.Content)));
        Assert.Equal("Zwei Städte, zwei Aufrufe.", string.Concat(deltas.Where(d => d.HasReasoning).Select(d => d.Reasoning)));
        Assert.Equal("EqQBCgIYAhIM", Assert.Single(deltas, d => d.HasReasoningSignature).ReasoningSignature);
        // Thinking never leaks into text, and text never into thinking.
        Assert.DoesNotContain(deltas, d => d.HasContent && d.HasReasoning);

        var calls = deltas.SelectMany(d => d.ToolCalls).ToList();
        Assert.Equal([0, 1], calls.Select(c => c.Index).Distinct());
        Assert.Equal(("toolu_01P", "get_weather"), (calls.First(c => c.Index == 0).Id, calls.First(c => c.Index == 0).Name));
        Assert.Equal(("toolu_01B", "get_weather"), (calls.First(c => c.Index == 1).Id, calls.First(c => c.Index == 1).Name));
        Assert.Equal("""{"city": "Paris"}""", string.Concat(calls.Where(c => c.Index == 0).Select(c => c.Arguments)));
        Assert.Equal("""{"city": "Berlin"}""", string.Concat(calls.Where(c => c.Index == 1).Select(c => c.Arguments)));

        // The finish chunk, then the usage chunk, last.
        Assert.Equal(FinishReason.ToolCalls, chunks[^2].Choices.Single().FinishReason);
        Assert.Null(chunks[^2].Usage);
        Assert.Empty(chunks[^1].Choices);
        Assert.Equal(new Usage { InputTokens = 135, OutputTokens = 42, CachedInputTokens = 100, CacheCreationInputTokens = 10 }, chunks[^1].Usage);
        Assert.Single(chunks, c => c.Usage is not null);
    }

    [Fact]
    public async Task ReadStreamAsync_StopSequence_IsReportedOnTheFinishChunk()
    {
        var events = Recorded[..6].Concat(
        [
            "event: message_delta",
            """data: {"type":"message_delta","delta":{"stop_reason":"stop_sequence","stop_sequence":"###"},"usage":{"output_tokens":3}}""",
            "",
            "event: message_stop",
            """data: {"type":"message_stop"}""",
            "",
        ]);

        var chunks = await ReadAllAsync(string.Join("\n", events) + "\n");

        var finish = chunks.SelectMany(c => c.Choices).Single(c => c.FinishReason != FinishReason.Unspecified);
        Assert.Equal((FinishReason.Stop, "###"), (finish.FinishReason, finish.StopSequence));
    }

    [Theory]
    [InlineData("overloaded_error", ErrorKind.Unavailable)]
    [InlineData("api_error", ErrorKind.UpstreamError)]
    [InlineData("rate_limit_error", ErrorKind.UpstreamRateLimited)]
    public async Task ReadStreamAsync_ErrorEventMidStream_ThrowsTypedRetryableErrorAfterTheTextSoFar(string type, ErrorKind expected)
    {
        var events = Recorded[..27].Concat(
        [
            "event: error",
            $$$"""data: {"type":"error","error":{"type":"{{{type}}}","message":"Overloaded"}}""",
            "",
        ]);
        var received = new List<ChatChunk>();

        var error = await Assert.ThrowsAsync<GatewayException>(async () =>
        {
            await foreach (var chunk in AnthropicProvider.ReadStreamAsync(Target, new TrickleStream(Encoding.UTF8.GetBytes(string.Join("\r\n", events) + "\r\n"), 1), 0, CancellationToken.None, TestContext.Current.CancellationToken))
            {
                received.Add(chunk);
            }
        });

        Assert.Equal(expected, error.Kind);
        Assert.True(error.IsRetryable);
        Assert.Equal("Grüße aus 世界 ", string.Concat(received.SelectMany(c => c.Choices).Where(c => c.Delta.HasContent).Select(c => c.Delta.Content)));
    }

    [Fact]
    public async Task ReadStreamAsync_ConnectionClosesWithoutMessageStop_IsUpstreamError()
    {
        var truncated = string.Join("\n", Recorded[..27]) + "\n";

        var error = await Assert.ThrowsAsync<GatewayException>(() => ReadAllAsync(truncated));

        Assert.Equal(ErrorKind.UpstreamError, error.Kind);
        Assert.Contains("before it finished", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadStreamAsync_EventThatIsNotJson_IsUpstreamError()
    {
        var error = await Assert.ThrowsAsync<GatewayException>(() => ReadAllAsync("event: message_start\ndata: {not json\n\n"));

        Assert.Equal(ErrorKind.UpstreamError, error.Kind);
    }

    // ---- neutral chunks -> Anthropic events (the edge) --------------------------------------------------

    [Fact]
    public void Encoder_ThinkingTextAndTools_EmitsAnthropicEventSequence()
    {
        var encoder = new AnthropicStreamEncoder("msg_req1", "claude-sonnet-4");
        var events = new List<string>();
        void Sink(string name, Action<Utf8JsonWriter> write) => events.Add($"{name} {Write(write)}");

        encoder.Write(Chunk(new Delta { Role = Role.Assistant, Content = "" }), Sink);
        encoder.Write(Chunk(new Delta { Reasoning = "Think " }), Sink);
        encoder.Write(Chunk(new Delta { Reasoning = "hard." }), Sink);
        encoder.Write(Chunk(new Delta { ReasoningSignature = "sig" }), Sink);
        encoder.Write(Chunk(new Delta { Content = "Hé " }), Sink);
        encoder.Write(Chunk(new Delta { Content = "😀" }), Sink);
        encoder.Write(Chunk(new Delta { ToolCalls = { new ToolCallDelta { Index = 0, Id = "call_1", Name = "f", Arguments = "" } } }), Sink);
        encoder.Write(Chunk(new Delta { ToolCalls = { new ToolCallDelta { Index = 0, Arguments = "{\"a\":" } } }), Sink);
        encoder.Write(Chunk(new Delta { ToolCalls = { new ToolCallDelta { Index = 0, Arguments = "1}" } } }), Sink);
        encoder.Write(Chunk(new Delta { ToolCalls = { new ToolCallDelta { Index = 1, Id = "call_2", Name = "g", Arguments = "{}" } } }), Sink);
        encoder.Write(Chunk(new Delta(), FinishReason.ToolCalls), Sink);
        encoder.Write(new ChatChunk { Usage = new Usage { InputTokens = 120, CachedInputTokens = 100, OutputTokens = 9 } }, Sink);
        encoder.Complete(Sink);

        Assert.Equal(new[]
        {
            """message_start {"type":"message_start","message":{"id":"msg_req1","type":"message","role":"assistant","model":"gpt-4o","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}}""",
            """content_block_start {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}""",
            """content_block_delta {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Think "}}""",
            """content_block_delta {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hard."}}""",
            """content_block_delta {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig"}}""",
            """content_block_stop {"type":"content_block_stop","index":0}""",
            """content_block_start {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}""",
            """content_block_delta {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hé "}}""",
            """content_block_delta {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"😀"}}""",
            """content_block_stop {"type":"content_block_stop","index":1}""",
            """content_block_start {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"call_1","name":"f","input":{}}}""",
            """content_block_delta {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}""",
            """content_block_delta {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"1}"}}""",
            """content_block_stop {"type":"content_block_stop","index":2}""",
            """content_block_start {"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"call_2","name":"g","input":{}}}""",
            """content_block_delta {"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{}"}}""",
            """content_block_stop {"type":"content_block_stop","index":3}""",
            """message_delta {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":20,"cache_creation_input_tokens":0,"cache_read_input_tokens":100,"output_tokens":9}}""",
            """message_stop {"type":"message_stop"}""",
        }.Select(CompactEvent), events);
    }

    [Fact]
    public void Encoder_DecodedAnthropicStream_RoundTripsBlockForBlock()
    {
        var decoder = new AnthropicStreamDecoder("anthropic", 0);
        var encoder = new AnthropicStreamEncoder("msg_01Rec", "claude-sonnet-4");
        var events = new List<(string Name, string Json)>();
        void Sink(string name, Action<Utf8JsonWriter> write) => events.Add((name, Write(write)));

        foreach (var frame in string.Join("\n", Recorded).Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var lines = frame.Split('\n');
            var data = Parse(lines[1]["data: ".Length..]);
            if (decoder.Read(lines[0]["event: ".Length..], data) is { } chunk)
            {
                encoder.Write(chunk, Sink);
            }
        }
        encoder.Complete(Sink);

        var original = Recorded.Where(l => l.StartsWith("event: ", StringComparison.Ordinal)).Select(l => l["event: ".Length..]).Where(n => n != "ping").ToList();
        // Anthropic's empty input_json_delta carries nothing and is not repeated.
        var firstToolStart = original.Select((name, index) => (name, index)).Where(e => e.name == "content_block_start").ElementAt(2).index;
        original.RemoveAt(firstToolStart + 1);
        Assert.Equal(original, events.Select(e => e.Name));
        Assert.Contains(events, e => e.Json.Contains("\"partial_json\":\"{\\\"city\\\": \\\"Pa\"", StringComparison.Ordinal));
        Assert.Contains("\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":10,\"cache_read_input_tokens\":100,\"output_tokens\":42}", events.Single(e => e.Name == "message_delta").Json, StringComparison.Ordinal);
    }

    // "name json" with the JSON written the way the encoder writes it (escaping included).
    private static string CompactEvent(string line)
    {
        var space = line.IndexOf(' ', StringComparison.Ordinal);
        return $"{line[..space]} {Compact(line[(space + 1)..])}";
    }

    private static ChatChunk Chunk(Delta delta, FinishReason finish = FinishReason.Unspecified) => new()
    {
        Id = "chatcmpl-1",
        Model = "gpt-4o",
        Choices = { new ChunkChoice { Delta = delta, FinishReason = finish } },
    };

    private static async Task<List<ChatChunk>> ReadAllAsync(string text)
    {
        var result = new List<ChatChunk>();
        // One byte per read: every multi-byte character and every CRLF is split across reads.
        await foreach (var chunk in AnthropicProvider.ReadStreamAsync(Target, new TrickleStream(Encoding.UTF8.GetBytes(text), 1), 1_700_000_000, CancellationToken.None, TestContext.Current.CancellationToken))
        {
            result.Add(chunk);
        }
        return result;
    }
}
