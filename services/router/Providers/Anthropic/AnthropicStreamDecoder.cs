using System.Text.Json;
using Gateway.Common.Errors;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;
using static Gateway.Router.Providers.JsonRead;

namespace Gateway.Router.Providers.Anthropic;

// Anthropic's stream events -> neutral chunks, one stream at a time. Anthropic numbers content blocks of
// every kind; neutral tool-call deltas are numbered among tool calls only, so the block index is mapped to
// the tool call's ordinal. Usage arrives in pieces (input at message_start, output at message_delta) and
// goes out whole as the last chunk, after the finish chunk.
public sealed class AnthropicStreamDecoder(string providerName, long created)
{
    private readonly Dictionary<long, int> _toolOrdinals = [];
    private string _id = "";
    private string _model = "";
    private JsonUsage _usage;

    // message_stop arrived: the stream finished as the model intended.
    public bool Completed { get; private set; }

    // The neutral chunk for one event, or null when the event carries nothing to forward (ping, block stop).
    public ChatChunk? Read(string? eventName, JsonElement data)
    {
        var type = OptString(data, "type") ?? eventName;
        switch (type)
        {
            case "message_start":
                var message = OptObject(data, "message");
                _id = OptString(message, "id") ?? "";
                _model = OptString(message, "model") ?? "";
                _usage.Merge(OptObject(message, "usage"));
                return Chunk(new Delta { Role = Role.Assistant });
            case "content_block_start":
                return BlockStart(OptLong(data, "index"), OptObject(data, "content_block"));
            case "content_block_delta":
                return BlockDelta(OptLong(data, "index"), OptObject(data, "delta"));
            case "message_delta":
                _usage.Merge(OptObject(data, "usage"));
                var delta = OptObject(data, "delta");
                if (OptString(delta, "stop_reason") is not { } stopReason)
                {
                    return null;
                }
                var chunk = Chunk(new Delta());
                chunk.Choices[0].FinishReason = AnthropicCodec.ParseStopReason(stopReason);
                chunk.Choices[0].StopSequence = OptString(delta, "stop_sequence") ?? "";
                return chunk;
            case "message_stop":
                Completed = true;
                return new ChatChunk { Id = _id, Model = _model, Created = created, Usage = _usage.ToUsage() };
            case "error":
                var error = OptObject(data, "error");
                var errorType = OptString(error, "type");
                throw AnthropicProvider.ReadError(providerName, AnthropicCodec.StatusFor(errorType), data.GetRawText(), null);
            default:
                // ping, content_block_stop and event types added after this adapter was written.
                return null;
        }
    }

    private ChatChunk? BlockStart(long index, JsonElement block)
    {
        switch (OptString(block, "type"))
        {
            case "text" when OptString(block, "text") is { Length: > 0 } text:
                return Chunk(new Delta { Content = text });
            case "tool_use":
                var ordinal = _toolOrdinals.Count;
                _toolOrdinals[index] = ordinal;
                var call = new ToolCallDelta { Index = ordinal, Id = OptString(block, "id") ?? "", Name = OptString(block, "name") ?? "" };
                // The start carries `input: {}` and the arguments follow as input_json_delta; a non-empty input
                // here (a server that sends it whole) is the arguments.
                if (OptObject(block, "input") is { ValueKind: JsonValueKind.Object } input && input.EnumerateObject().Any())
                {
                    call.Arguments = input.GetRawText();
                }
                var delta = new Delta();
                delta.ToolCalls.Add(call);
                return Chunk(delta);
            case "thinking":
                var thinking = new Delta();
                if (OptString(block, "thinking") is { Length: > 0 } reasoning)
                {
                    thinking.Reasoning = reasoning;
                }
                if (OptString(block, "signature") is { Length: > 0 } signature)
                {
                    thinking.ReasoningSignature = signature;
                }
                return thinking.HasReasoning || thinking.HasReasoningSignature ? Chunk(thinking) : null;
            default:
                // redacted_thinking has no place in a neutral delta (only whole responses carry it); server
                // tool blocks are never requested by the gateway.
                return null;
        }
    }

    private ChatChunk? BlockDelta(long index, JsonElement delta)
    {
        switch (OptString(delta, "type"))
        {
            case "text_delta":
                return Chunk(new Delta { Content = OptString(delta, "text") ?? "" });
            case "input_json_delta":
                if (!_toolOrdinals.TryGetValue(index, out var ordinal))
                {
                    return null;
                }
                var tool = new Delta();
                tool.ToolCalls.Add(new ToolCallDelta { Index = ordinal, Arguments = OptString(delta, "partial_json") ?? "" });
                return Chunk(tool);
            case "thinking_delta":
                return Chunk(new Delta { Reasoning = OptString(delta, "thinking") ?? "" });
            case "signature_delta":
                return Chunk(new Delta { ReasoningSignature = OptString(delta, "signature") ?? "" });
            default:
                return null;
        }
    }

    private ChatChunk Chunk(Delta delta) => new()
    {
        Id = _id,
        Model = _model,
        Created = created,
        Choices = { new ChunkChoice { Index = 0, Delta = delta } },
    };

    // Later usage objects repeat or extend earlier ones (message_delta counts are cumulative), so a field
    // present later wins.
    private struct JsonUsage
    {
        private int _input;
        private int _output;
        private int _cacheRead;
        private int _cacheCreation;
        private int _thinking;

        public void Merge(JsonElement usage)
        {
            if (usage.ValueKind != JsonValueKind.Object)
            {
                return;
            }
            Take(usage, "input_tokens", ref _input);
            Take(usage, "output_tokens", ref _output);
            Take(usage, "cache_read_input_tokens", ref _cacheRead);
            Take(usage, "cache_creation_input_tokens", ref _cacheCreation);
            Take(OptObject(usage, "output_tokens_details"), "thinking_tokens", ref _thinking);
        }

        private static void Take(JsonElement usage, string name, ref int field)
        {
            if (usage.ValueKind == JsonValueKind.Object && usage.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number))
            {
                field = number;
            }
        }

        public readonly Usage ToUsage() => new()
        {
            InputTokens = _input + _cacheRead + _cacheCreation,
            OutputTokens = _output,
            CachedInputTokens = _cacheRead,
            CacheCreationInputTokens = _cacheCreation,
            ReasoningTokens = _thinking,
        };
    }
}
