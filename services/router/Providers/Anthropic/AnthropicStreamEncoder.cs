using System.Text.Json;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;

namespace Gateway.Router.Providers.Anthropic;

// Where encoded events go: the edge's SSE writer, or a buffer in tests.
public delegate void AnthropicEventSink(string eventName, Action<Utf8JsonWriter> writeJson);

// Neutral chunks -> Anthropic's stream events, as Anthropic sends them: message_start; for each text,
// thinking or tool_use block a content_block_start, its deltas and a content_block_stop; then one
// message_delta with the stop reason and the cumulative usage, and message_stop. Neutral deltas have no
// block boundaries, so a block opens when the kind of delta changes (a new tool call, text after thinking,
// thinking after a signature closed the previous thinking block).
public sealed class AnthropicStreamEncoder(string messageId, string model)
{
    private enum Block
    {
        None,
        Text,
        Thinking,
        Tool,
    }

    private readonly Dictionary<int, int> _toolBlocks = [];
    private bool _started;
    private int _nextIndex;
    private Block _open = Block.None;
    private int _openIndex;
    private bool _thinkingSigned;
    private FinishReason _finish = FinishReason.Unspecified;
    private string _stopSequence = "";
    private Usage _usage = new();

    public void Write(ChatChunk chunk, AnthropicEventSink sink)
    {
        Start(chunk.Model, sink);
        if (chunk.Usage is not null)
        {
            _usage = chunk.Usage;
        }
        foreach (var choice in chunk.Choices)
        {
            // The Messages API has one answer per request; n > 1 cannot be asked for on this surface.
            if (choice.Index != 0)
            {
                continue;
            }
            if (choice.Delta is { } delta)
            {
                WriteDelta(delta, sink);
            }
            if (choice.FinishReason != FinishReason.Unspecified)
            {
                _finish = choice.FinishReason;
                _stopSequence = choice.StopSequence;
            }
        }
    }

    // After the last chunk: close the open block and report how the message ended.
    public void Complete(AnthropicEventSink sink)
    {
        Start(model, sink);
        Close(sink);
        var finish = _finish;
        var stopSequence = _stopSequence;
        var hasTools = _toolBlocks.Count > 0;
        var usage = _usage;
        sink("message_delta", w =>
        {
            w.WriteStartObject();
            w.WriteString("type", "message_delta");
            w.WriteStartObject("delta");
            AnthropicCodec.WriteStopReason(w, finish, stopSequence, hasTools);
            w.WriteEndObject();
            AnthropicCodec.WriteUsage(w, usage);
            w.WriteEndObject();
        });
        sink("message_stop", static w =>
        {
            w.WriteStartObject();
            w.WriteString("type", "message_stop");
            w.WriteEndObject();
        });
    }

    private void Start(string chunkModel, AnthropicEventSink sink)
    {
        if (_started)
        {
            return;
        }
        _started = true;
        var id = messageId;
        var name = chunkModel.Length > 0 ? chunkModel : model;
        sink("message_start", w =>
        {
            w.WriteStartObject();
            w.WriteString("type", "message_start");
            w.WriteStartObject("message");
            w.WriteString("id", id);
            w.WriteString("type", "message");
            w.WriteString("role", "assistant");
            w.WriteString("model", name);
            w.WriteStartArray("content");
            w.WriteEndArray();
            w.WriteNull("stop_reason");
            w.WriteNull("stop_sequence");
            // Usage is known only at the end; message_delta carries it whole.
            AnthropicCodec.WriteUsage(w, new Usage());
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }

    private void WriteDelta(Delta delta, AnthropicEventSink sink)
    {
        if (delta.HasReasoning && delta.Reasoning.Length > 0)
        {
            if (_open != Block.Thinking || _thinkingSigned)
            {
                OpenThinking(sink);
            }
            WriteBlockDelta(sink, _openIndex, "thinking_delta", "thinking", delta.Reasoning);
        }
        if (delta.HasReasoningSignature && delta.ReasoningSignature.Length > 0)
        {
            if (_open != Block.Thinking || _thinkingSigned)
            {
                OpenThinking(sink);
            }
            WriteBlockDelta(sink, _openIndex, "signature_delta", "signature", delta.ReasoningSignature);
            _thinkingSigned = true;
        }
        var text = (delta.HasContent ? delta.Content : "") + (delta.HasRefusal ? delta.Refusal : "");
        if (text.Length > 0)
        {
            if (_open != Block.Text)
            {
                Close(sink);
                _open = Block.Text;
                _openIndex = _nextIndex++;
                WriteBlockStart(sink, _openIndex, static w =>
                {
                    w.WriteString("type", "text");
                    w.WriteString("text", "");
                });
            }
            WriteBlockDelta(sink, _openIndex, "text_delta", "text", text);
        }
        foreach (var call in delta.ToolCalls)
        {
            if (!_toolBlocks.TryGetValue(call.Index, out var blockIndex))
            {
                Close(sink);
                blockIndex = _nextIndex++;
                _toolBlocks[call.Index] = blockIndex;
                _open = Block.Tool;
                _openIndex = blockIndex;
                var id = AnthropicCodec.ToolUseId(call.Id, messageId, call.Index);
                var name = call.Name;
                WriteBlockStart(sink, blockIndex, w =>
                {
                    w.WriteString("type", "tool_use");
                    w.WriteString("id", id);
                    w.WriteString("name", name);
                    w.WriteStartObject("input");
                    w.WriteEndObject();
                });
            }
            // A late delta for an earlier call keeps that call's own block index.
            if (call.Arguments.Length > 0)
            {
                WriteBlockDelta(sink, blockIndex, "input_json_delta", "partial_json", call.Arguments);
            }
        }
    }

    private void OpenThinking(AnthropicEventSink sink)
    {
        Close(sink);
        _open = Block.Thinking;
        _thinkingSigned = false;
        _openIndex = _nextIndex++;
        WriteBlockStart(sink, _openIndex, static w =>
        {
            w.WriteString("type", "thinking");
            w.WriteString("thinking", "");
            w.WriteString("signature", "");
        });
    }

    private void Close(AnthropicEventSink sink)
    {
        if (_open == Block.None)
        {
            return;
        }
        var index = _openIndex;
        _open = Block.None;
        sink("content_block_stop", w =>
        {
            w.WriteStartObject();
            w.WriteString("type", "content_block_stop");
            w.WriteNumber("index", index);
            w.WriteEndObject();
        });
    }

    private static void WriteBlockStart(AnthropicEventSink sink, int index, Action<Utf8JsonWriter> writeBlock)
        => sink("content_block_start", w =>
        {
            w.WriteStartObject();
            w.WriteString("type", "content_block_start");
            w.WriteNumber("index", index);
            w.WriteStartObject("content_block");
            writeBlock(w);
            w.WriteEndObject();
            w.WriteEndObject();
        });

    private static void WriteBlockDelta(AnthropicEventSink sink, int index, string type, string field, string value)
        => sink("content_block_delta", w =>
        {
            w.WriteStartObject();
            w.WriteString("type", "content_block_delta");
            w.WriteNumber("index", index);
            w.WriteStartObject("delta");
            w.WriteString("type", type);
            w.WriteString(field, value);
            w.WriteEndObject();
            w.WriteEndObject();
        });
}
