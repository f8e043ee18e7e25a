namespace Gateway.Testing.Fakes;

// What a fake provider should answer next: text, tool calls, or an error (status + the provider's body).
public sealed record FakeReply
{
    public string? Text { get; init; }

    public IReadOnlyList<FakeToolCall> ToolCalls { get; init; } = [];

    public int Status { get; init; } = 200;

    public string? ErrorBody { get; init; }

    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    public int InputTokens { get; init; } = 11;

    public int OutputTokens { get; init; } = 7;

    // Of the input tokens, served from the provider's prompt cache; of the output tokens, spent reasoning.
    public int CachedInputTokens { get; init; }

    public int ReasoningTokens { get; init; }

    // For streams: stop after this many content chunks and drop the connection (a broken stream).
    public int? DropAfterChunks { get; init; }

    // Awaited before answering: lets a test hold a request in flight and release it when it chooses.
    public Task? Gate { get; init; }

    // For streams: the status line and headers go out at once, the first chunk only when this completes
    // (a slow first token).
    public Task? FirstChunkGate { get; init; }

    // For streams: after this many content chunks, wait for StallGate before sending the rest (a stall).
    public int? StallAfterChunks { get; init; }

    public Task? StallGate { get; init; }
    // Thinking that precedes the answer: an Anthropic thinking block signed by the fake, or OpenAI-compatible
    // `reasoning_content` (vLLM, DeepSeek), unsigned. Streamed in small pieces like the text.
    public string? Thinking { get; init; }

    // For streams: after the text, send this provider error in-band (an Anthropic `error` event) and stop.
    public string? StreamError { get; init; }

    public static FakeReply Say(string text) => new() { Text = text };

    public static FakeReply Error(int status, string body) => new() { Status = status, ErrorBody = body };

    // Small pieces, as providers stream them, never splitting a surrogate pair (JSON cannot carry half of one).
    public static IEnumerable<string> Pieces(string text, int size = 3)
    {
        for (var i = 0; i < text.Length;)
        {
            var length = Math.Min(size, text.Length - i);
            if (char.IsHighSurrogate(text[i + length - 1]) && i + length < text.Length)
            {
                length++;
            }
            yield return text.Substring(i, length);
            i += length;
        }
    }

    public static FakeReply Call(string id, string name, string argumentsJson) => new() { ToolCalls = [new FakeToolCall(id, name, argumentsJson)] };
}

public sealed record FakeToolCall(string Id, string Name, string ArgumentsJson);
