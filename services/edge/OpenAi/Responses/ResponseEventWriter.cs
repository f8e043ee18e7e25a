using System.Text;
using System.Text.Json;
using Gateway.Common.Errors;
using Gateway.Contracts.Inference.V1;
using Gateway.Edge.Http;

namespace Gateway.Edge.OpenAi.Responses;

// Turns neutral stream chunks into the Responses API's semantic events: response.created and .in_progress,
// then per output item .output_item.added, .content_part.added, .output_text.delta (or
// .function_call_arguments.delta), their .done events, and response.completed (or .incomplete) with usage;
// `error` and response.failed when the stream fails. Every event carries a sequence_number.
public sealed class ResponseEventWriter(ResponseObject response, string requestId)
{
    private int _sequence;
    private bool _started;
    private OutputItem? _open;
    private readonly Dictionary<int, OutputItem> _callsByIndex = [];

    public void Write(SseWriter sse, ChatChunk chunk)
    {
        if (!_started)
        {
            _started = true;
            if (chunk.Model.Length > 0)
            {
                response.Model = chunk.Model;
            }
            Event(sse, "response.created", w => WriteResponse(w));
            Event(sse, "response.in_progress", w => WriteResponse(w));
        }
        if (chunk.Usage is { } usage)
        {
            response.Usage = usage;
        }
        if (chunk.Choices.Count == 0)
        {
            return;
        }
        var choice = chunk.Choices[0];
        var delta = choice.Delta;
        if (delta is not null)
        {
            if (delta.HasContent && delta.Content.Length > 0)
            {
                MessageDelta(sse, "output_text", delta.Content);
            }
            if (delta.HasRefusal && delta.Refusal.Length > 0)
            {
                MessageDelta(sse, "refusal", delta.Refusal);
            }
            foreach (var call in delta.ToolCalls)
            {
                CallDelta(sse, call);
            }
        }
        if (choice.FinishReason != FinishReason.Unspecified)
        {
            response.FinishReason = choice.FinishReason;
        }
    }

    // The stream ended well: seal the object (so it can be stored before the client hears it is complete).
    public void Seal()
    {
        response.Seal();
    }

    public void Complete(SseWriter sse)
    {
        Close(sse);
        Event(sse, response.Status == "incomplete" ? "response.incomplete" : "response.completed", w => WriteResponse(w));
    }

    public void Fail(SseWriter sse, GatewayException error)
    {
        response.Fail(error);
        var visible = ErrorMapping.IsClientVisible(error.Kind);
        Event(sse, "error", w =>
        {
            w.WriteString("code", error.Code);
            w.WriteString("message", visible ? error.Message : $"The gateway failed to handle the request (request id {requestId}).");
            if (error.Param is null)
            {
                w.WriteNull("param");
            }
            else
            {
                w.WriteString("param", error.Param);
            }
        });
        Event(sse, "response.failed", w => WriteResponse(w));
    }

    private void WriteResponse(Utf8JsonWriter w)
    {
        w.WritePropertyName("response");
        response.Write(w, requestId);
    }

    private void MessageDelta(SseWriter sse, string kind, string text)
    {
        if (_open is not { Type: "message" })
        {
            Close(sse);
            Open(sse, OutputItem.Message());
        }
        var item = _open!;
        var outputIndex = response.Output.Count - 1;
        if (item.Parts.Count == 0 || item.Parts[^1].Kind != kind)
        {
            ClosePart(sse, item, outputIndex);
            item.Parts.Add((kind, new StringBuilder()));
            var added = item.Parts.Count - 1;
            Event(sse, "response.content_part.added", w =>
            {
                PartAddress(w, item, outputIndex, added);
                w.WritePropertyName("part");
                item.WritePart(w, added);
            });
        }
        var contentIndex = item.Parts.Count - 1;
        item.Parts[contentIndex].Text.Append(text);
        Event(sse, kind == "refusal" ? "response.refusal.delta" : "response.output_text.delta", w =>
        {
            PartAddress(w, item, outputIndex, contentIndex);
            w.WriteString("delta", text);
            if (kind != "refusal")
            {
                w.WriteStartArray("logprobs");
                w.WriteEndArray();
            }
        });
    }

    private void CallDelta(SseWriter sse, ToolCallDelta call)
    {
        if (!_callsByIndex.TryGetValue(call.Index, out var item))
        {
            Close(sse);
            item = OutputItem.FunctionCall(call.Id, call.Name);
            _callsByIndex[call.Index] = item;
            Open(sse, item);
        }
        else if (item.Name.Length == 0 && call.Name.Length > 0)
        {
            item.Name = call.Name;
        }
        if (call.Arguments.Length == 0)
        {
            return;
        }
        item.Arguments.Append(call.Arguments);
        var outputIndex = response.Output.IndexOf(item);
        Event(sse, "response.function_call_arguments.delta", w =>
        {
            w.WriteString("item_id", item.Id);
            w.WriteNumber("output_index", outputIndex);
            w.WriteString("delta", call.Arguments);
        });
    }

    private void Open(SseWriter sse, OutputItem item)
    {
        response.Output.Add(item);
        _open = item;
        var outputIndex = response.Output.Count - 1;
        Event(sse, "response.output_item.added", w =>
        {
            w.WriteNumber("output_index", outputIndex);
            w.WritePropertyName("item");
            item.Write(w);
        });
    }

    // Ends the open item with its .done events.
    private void Close(SseWriter sse)
    {
        if (_open is not { } item)
        {
            return;
        }
        _open = null;
        var outputIndex = response.Output.IndexOf(item);
        if (item.Type == "message")
        {
            ClosePart(sse, item, outputIndex);
        }
        else
        {
            Event(sse, "response.function_call_arguments.done", w =>
            {
                w.WriteString("item_id", item.Id);
                w.WriteNumber("output_index", outputIndex);
                w.WriteString("name", item.Name);
                w.WriteString("arguments", item.Arguments.ToString());
            });
        }
        if (item.Status == "in_progress")
        {
            item.Status = "completed";
        }
        Event(sse, "response.output_item.done", w =>
        {
            w.WriteNumber("output_index", outputIndex);
            w.WritePropertyName("item");
            item.Write(w);
        });
    }

    private void ClosePart(SseWriter sse, OutputItem item, int outputIndex)
    {
        if (item.Parts.Count == 0)
        {
            return;
        }
        var contentIndex = item.Parts.Count - 1;
        var (kind, text) = item.Parts[contentIndex];
        Event(sse, kind == "refusal" ? "response.refusal.done" : "response.output_text.done", w =>
        {
            PartAddress(w, item, outputIndex, contentIndex);
            w.WriteString(kind == "refusal" ? "refusal" : "text", text.ToString());
            if (kind != "refusal")
            {
                w.WriteStartArray("logprobs");
                w.WriteEndArray();
            }
        });
        Event(sse, "response.content_part.done", w =>
        {
            PartAddress(w, item, outputIndex, contentIndex);
            w.WritePropertyName("part");
            item.WritePart(w, contentIndex);
        });
    }

    private static void PartAddress(Utf8JsonWriter w, OutputItem item, int outputIndex, int contentIndex)
    {
        w.WriteString("item_id", item.Id);
        w.WriteNumber("output_index", outputIndex);
        w.WriteNumber("content_index", contentIndex);
    }

    private void Event(SseWriter sse, string type, Action<Utf8JsonWriter> body)
    {
        var sequence = _sequence++;
        sse.Write(type, w =>
        {
            w.WriteStartObject();
            w.WriteString("type", type);
            w.WriteNumber("sequence_number", sequence);
            body(w);
            w.WriteEndObject();
        });
    }
}
