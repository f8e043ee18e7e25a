using System.Buffers;
using System.Text;
using System.Text.Json;
using Gateway.Common;
using Gateway.Common.Errors;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;
using Gateway.Router.Providers;

namespace Gateway.Edge.OpenAi.Responses;

// One item of a response's `output`: an assistant message (text and refusal parts) or a function call.
public sealed class OutputItem
{
    public required string Type { get; init; }

    public required string Id { get; init; }

    public string Status { get; set; } = "in_progress";

    // Message parts in order: ("output_text" | "refusal", text).
    public List<(string Kind, StringBuilder Text)> Parts { get; } = [];

    public string CallId { get; set; } = "";

    public string Name { get; set; } = "";

    public StringBuilder Arguments { get; } = new();

    public static OutputItem Message() => new() { Type = "message", Id = "msg_" + Ids.NewId() };

    public static OutputItem FunctionCall(string callId, string name) => new() { Type = "function_call", Id = "fc_" + Ids.NewId(), CallId = callId, Name = name };

    public void WritePart(Utf8JsonWriter w, int index)
    {
        var (kind, text) = Parts[index];
        w.WriteStartObject();
        w.WriteString("type", kind);
        if (kind == "refusal")
        {
            w.WriteString("refusal", text.ToString());
        }
        else
        {
            w.WriteStartArray("annotations");
            w.WriteEndArray();
            w.WriteStartArray("logprobs");
            w.WriteEndArray();
            w.WriteString("text", text.ToString());
        }
        w.WriteEndObject();
    }

    public void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("id", Id);
        w.WriteString("type", Type);
        w.WriteString("status", Status);
        if (Type == "message")
        {
            w.WriteString("role", "assistant");
            w.WriteStartArray("content");
            for (var i = 0; i < Parts.Count; i++)
            {
                WritePart(w, i);
            }
            w.WriteEndArray();
        }
        else
        {
            w.WriteString("call_id", CallId);
            w.WriteString("name", Name);
            w.WriteString("arguments", Arguments.ToString());
        }
        w.WriteEndObject();
    }
}

// The Responses API `response` object, built from a neutral ChatResponse or chunk by chunk from a stream,
// echoing the request's settings as OpenAI does.
public sealed class ResponseObject(ResponsesRequest request, string id, long createdAt)
{
    public string Id { get; } = id;

    public long CreatedAt { get; } = createdAt;

    // in_progress, completed, incomplete or failed.
    public string Status { get; private set; } = "in_progress";

    public string Model { get; set; } = request.Chat.Model;

    public List<OutputItem> Output { get; } = [];

    public Usage? Usage { get; set; }

    public FinishReason FinishReason { get; set; }

    private string? _incompleteReason;
    private GatewayException? _error;

    public static ResponseObject FromChat(ResponsesRequest request, string id, long createdAt, ChatResponse chat)
    {
        var response = new ResponseObject(request, id, createdAt) { Usage = chat.Usage };
        if (chat.Model.Length > 0)
        {
            response.Model = chat.Model;
        }
        if (chat.Choices.Count > 0)
        {
            var choice = chat.Choices[0];
            response.FinishReason = choice.FinishReason;
            var message = OutputItem.Message();
            if (Router.Providers.OpenAI.OpenAiChatCodec.TextOf(choice.Message) is { Length: > 0 } text)
            {
                message.Parts.Add(("output_text", new StringBuilder(text)));
            }
            if (choice.Message.Refusal.Length > 0)
            {
                message.Parts.Add(("refusal", new StringBuilder(choice.Message.Refusal)));
            }
            if (message.Parts.Count > 0)
            {
                response.Output.Add(message);
            }
            foreach (var call in choice.Message.ToolCalls)
            {
                var item = OutputItem.FunctionCall(call.Id, call.Name);
                item.Arguments.Append(call.Arguments);
                response.Output.Add(item);
            }
        }
        response.Seal();
        return response;
    }

    // The answer is complete: a length or content-filter stop makes the response `incomplete`, as OpenAI reports it.
    public void Seal()
    {
        _incompleteReason = FinishReason switch
        {
            FinishReason.Length => "max_output_tokens",
            FinishReason.ContentFilter => "content_filter",
            _ => null,
        };
        Status = _incompleteReason is null ? "completed" : "incomplete";
        foreach (var item in Output)
        {
            item.Status = Status;
        }
    }

    public void Fail(GatewayException error)
    {
        Status = "failed";
        _error = error;
    }

    // The assistant turn as a neutral message, for the conversation a later turn continues.
    public Message AssistantMessage()
    {
        var message = new Message { Role = Role.Assistant };
        foreach (var item in Output)
        {
            if (item.Type == "function_call")
            {
                message.ToolCalls.Add(new ToolCall { Id = item.CallId, Name = item.Name, Arguments = item.Arguments.ToString() });
                continue;
            }
            foreach (var (kind, text) in item.Parts)
            {
                if (kind == "refusal")
                {
                    message.Refusal += text.ToString();
                }
                else
                {
                    message.Content.Add(new ContentPart { Text = text.ToString() });
                }
            }
        }
        return message;
    }

    public string ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer, ProviderHttp.WriterOptions))
        {
            Write(w, "");
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    // `requestId` names the request in a failed response's generic message.
    public void Write(Utf8JsonWriter w, string requestId)
    {
        var chat = request.Chat;
        w.WriteStartObject();
        w.WriteString("id", Id);
        w.WriteString("object", "response");
        w.WriteNumber("created_at", CreatedAt);
        w.WriteString("status", Status);
        w.WriteBoolean("background", false);
        if (_error is null)
        {
            w.WriteNull("error");
        }
        else
        {
            w.WriteStartObject("error");
            w.WriteString("code", _error.Code);
            w.WriteString("message", ErrorMapping.IsClientVisible(_error.Kind) ? _error.Message : $"The gateway failed to handle the request (request id {requestId}).");
            w.WriteEndObject();
        }
        if (_incompleteReason is null)
        {
            w.WriteNull("incomplete_details");
        }
        else
        {
            w.WriteStartObject("incomplete_details");
            w.WriteString("reason", _incompleteReason);
            w.WriteEndObject();
        }
        WriteStringOrNull(w, "instructions", request.Instructions);
        if (chat.HasMaxTokens)
        {
            w.WriteNumber("max_output_tokens", chat.MaxTokens);
        }
        else
        {
            w.WriteNull("max_output_tokens");
        }
        w.WriteString("model", Model);
        w.WriteStartArray("output");
        foreach (var item in Output)
        {
            item.Write(w);
        }
        w.WriteEndArray();
        w.WriteBoolean("parallel_tool_calls", !chat.HasParallelToolCalls || chat.ParallelToolCalls);
        WriteStringOrNull(w, "previous_response_id", request.PreviousResponseId);
        w.WriteStartObject("reasoning");
        WriteStringOrNull(w, "effort", chat.Reasoning?.Effort is { Length: > 0 } effort ? effort : null);
        w.WriteNull("summary");
        w.WriteEndObject();
        w.WriteBoolean("store", request.Store);
        w.WriteNumber("temperature", chat.HasTemperature ? chat.Temperature : 1);
        w.WritePropertyName("text");
        WriteRawOr(w, request.TextJson, """{"format":{"type":"text"}}""");
        w.WritePropertyName("tool_choice");
        WriteRawOr(w, request.ToolChoiceJson, "\"auto\"");
        w.WritePropertyName("tools");
        WriteRawOr(w, request.ToolsJson, "[]");
        w.WriteNumber("top_p", chat.HasTopP ? chat.TopP : 1);
        w.WriteString("truncation", "disabled");
        WriteUsage(w, Usage);
        WriteStringOrNull(w, "user", chat.User.Length > 0 ? chat.User : null);
        w.WriteStartObject("metadata");
        foreach (var (key, value) in chat.Metadata)
        {
            w.WriteString(key, value);
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteUsage(Utf8JsonWriter w, Usage? usage)
    {
        if (usage is null)
        {
            w.WriteNull("usage");
            return;
        }
        w.WriteStartObject("usage");
        w.WriteNumber("input_tokens", usage.InputTokens);
        w.WriteStartObject("input_tokens_details");
        w.WriteNumber("cached_tokens", usage.CachedInputTokens);
        w.WriteEndObject();
        w.WriteNumber("output_tokens", usage.OutputTokens);
        w.WriteStartObject("output_tokens_details");
        w.WriteNumber("reasoning_tokens", usage.ReasoningTokens);
        w.WriteEndObject();
        w.WriteNumber("total_tokens", usage.InputTokens + usage.OutputTokens);
        w.WriteEndObject();
    }

    private static void WriteStringOrNull(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    private static void WriteRawOr(Utf8JsonWriter w, string? raw, string fallback) => w.WriteRawValue(raw ?? fallback, skipInputValidation: true);
}
