using System.Text.Json;
using Gateway.Common.Errors;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;
using Gateway.Router.Providers.Anthropic;
using static Gateway.Router.Providers.JsonRead;

namespace Gateway.Router.Providers.Bedrock;

// Neutral <-> the Bedrock Converse API (docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html).
// One request shape serves every Bedrock model: content blocks ({text}, {image}, {toolUse}, {toolResult},
// {reasoningContent}), system blocks, inferenceConfig and toolConfig; anything model-specific (Claude's
// thinking, top_k) goes in additionalModelRequestFields.
public static class BedrockCodec
{
    // ---- requests: neutral -> Converse ---------------------------------------------------------------

    public static void WriteRequest(Utf8JsonWriter w, ChatRequest request)
    {
        w.WriteStartObject();
        WriteMessages(w, request);
        WriteSystem(w, request);
        WriteInferenceConfig(w, request);
        WriteToolConfig(w, request);
        if (request.HasTopK || request.Reasoning is { BudgetTokens: > 0 })
        {
            w.WriteStartObject("additionalModelRequestFields");
            if (request.HasTopK)
            {
                w.WriteNumber("top_k", request.TopK);
            }
            if (request.Reasoning is { BudgetTokens: > 0 } reasoning)
            {
                w.WriteStartObject("thinking");
                w.WriteString("type", "enabled");
                w.WriteNumber("budget_tokens", reasoning.BudgetTokens);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    private static void WriteMessages(Utf8JsonWriter w, ChatRequest request)
    {
        var turns = AnthropicCodec.Turns(request);
        w.WriteStartArray("messages");
        foreach (var (role, messages) in turns)
        {
            w.WriteStartObject();
            w.WriteString("role", role);
            w.WriteStartArray("content");
            foreach (var (message, index) in messages)
            {
                WriteBlocks(w, message, index);
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void WriteBlocks(Utf8JsonWriter w, Message message, int index)
    {
        if (message.Role == Role.Tool)
        {
            WriteToolResult(w, message, index);
            return;
        }
        // Claude on Bedrock wants the thinking that led to an assistant turn first, signed as it came.
        foreach (var reasoning in message.Reasoning)
        {
            w.WriteStartObject();
            w.WriteStartObject("reasoningContent");
            if (reasoning.RedactedData.Length > 0)
            {
                w.WriteString("redactedContent", reasoning.RedactedData);
            }
            else
            {
                w.WriteStartObject("reasoningText");
                w.WriteString("text", reasoning.Text);
                if (reasoning.Signature.Length > 0)
                {
                    w.WriteString("signature", reasoning.Signature);
                }
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        for (var p = 0; p < message.Content.Count; p++)
        {
            WritePart(w, message.Content[p], $"messages[{index}].content[{p}]");
        }
        if (message.Refusal.Length > 0)
        {
            WriteText(w, message.Refusal);
        }
        for (var j = 0; j < message.ToolCalls.Count; j++)
        {
            var call = message.ToolCalls[j];
            w.WriteStartObject();
            w.WriteStartObject("toolUse");
            w.WriteString("toolUseId", call.Id);
            w.WriteString("name", call.Name);
            w.WritePropertyName("input");
            if (!AnthropicCodec.TryWriteInput(w, call.Arguments))
            {
                var path = $"messages[{index}].tool_calls[{j}].function.arguments";
                throw GatewayException.BadRequest($"Invalid '{path}': the arguments must be a JSON object to be sent as Bedrock toolUse input.", path, "invalid_value");
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
    }

    private static void WriteToolResult(Utf8JsonWriter w, Message message, int index)
    {
        w.WriteStartObject();
        w.WriteStartObject("toolResult");
        w.WriteString("toolUseId", message.ToolCallId);
        w.WriteStartArray("content");
        var any = false;
        for (var p = 0; p < message.Content.Count; p++)
        {
            var part = message.Content[p];
            if (part.PartCase == ContentPart.PartOneofCase.Image || part.Text.Length > 0)
            {
                WritePart(w, part, $"messages[{index}].content[{p}]");
                any = true;
            }
        }
        if (!any)
        {
            // A tool result needs at least one block; an empty output is an empty text.
            WriteText(w, "");
        }
        w.WriteEndArray();
        if (message.IsError)
        {
            w.WriteString("status", "error");
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WritePart(Utf8JsonWriter w, ContentPart part, string path)
    {
        if (part.PartCase != ContentPart.PartOneofCase.Image)
        {
            // Converse refuses empty text blocks.
            if (part.Text.Length > 0)
            {
                WriteText(w, part.Text);
            }
            return;
        }
        var url = part.Image.Url;
        var marker = url.IndexOf(";base64,", StringComparison.Ordinal);
        var format = url.StartsWith("data:image/", StringComparison.Ordinal) && marker > 11 ? url[11..marker] : null;
        if (format is null)
        {
            // Converse takes image bytes (or an S3 location); fetching a client's URL would let clients make the
            // gateway connect anywhere.
            throw GatewayException.BadRequest($"Invalid '{path}': Bedrock accepts images only inline, as data:image/...;base64 URIs.", path, "invalid_value");
        }
        if (format is not ("png" or "jpeg" or "gif" or "webp"))
        {
            format = format == "jpg" ? "jpeg" : throw GatewayException.BadRequest($"Invalid '{path}': Bedrock accepts png, jpeg, gif and webp images, not {format}.", path, "invalid_value");
        }
        w.WriteStartObject();
        w.WriteStartObject("image");
        w.WriteString("format", format);
        w.WriteStartObject("source");
        w.WriteString("bytes", url[(marker + 8)..]);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteText(Utf8JsonWriter w, string text)
    {
        w.WriteStartObject();
        w.WriteString("text", text);
        w.WriteEndObject();
    }

    private static void WriteSystem(Utf8JsonWriter w, ChatRequest request)
    {
        var texts = request.Messages
            .Where(m => m.Role is Role.System or Role.Developer)
            .SelectMany(m => m.Content.Where(p => p.PartCase == ContentPart.PartOneofCase.Text && p.Text.Length > 0).Select(p => p.Text))
            .ToList();
        // Converse has no response_format: JSON mode becomes an instruction, as for Anthropic's Messages API.
        if (AnthropicCodec.ResponseFormatInstruction(request.ResponseFormat) is { } instruction)
        {
            texts.Add(instruction);
        }
        if (texts.Count == 0)
        {
            return;
        }
        w.WriteStartArray("system");
        foreach (var text in texts)
        {
            WriteText(w, text);
        }
        w.WriteEndArray();
    }

    private static void WriteInferenceConfig(Utf8JsonWriter w, ChatRequest request)
    {
        if (!request.HasMaxTokens && !request.HasTemperature && !request.HasTopP && request.Stop.Count == 0)
        {
            return;
        }
        w.WriteStartObject("inferenceConfig");
        if (request.HasMaxTokens)
        {
            w.WriteNumber("maxTokens", request.MaxTokens);
        }
        if (request.HasTemperature)
        {
            // OpenAI accepts 0-2; Bedrock's models take 0-1 and refuse more: the closest answer beats a 400.
            w.WriteNumber("temperature", Math.Clamp(request.Temperature, 0, 1));
        }
        if (request.HasTopP)
        {
            w.WriteNumber("topP", request.TopP);
        }
        if (request.Stop.Count > 0)
        {
            w.WriteStartArray("stopSequences");
            foreach (var stop in request.Stop)
            {
                w.WriteStringValue(stop);
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    private static void WriteToolConfig(Utf8JsonWriter w, ChatRequest request)
    {
        var mode = request.ToolChoice?.Mode ?? ToolChoice.Types.Mode.Unspecified;
        var history = request.Messages.Any(m => m.Role == Role.Tool || m.ToolCalls.Count > 0);
        // Converse has no "none": the tools are left out, unless earlier turns used them (then Bedrock
        // requires toolConfig, and the model may still choose not to call one).
        if (request.Tools.Count == 0 || mode == ToolChoice.Types.Mode.None && !history)
        {
            return;
        }
        w.WriteStartObject("toolConfig");
        w.WriteStartArray("tools");
        foreach (var tool in request.Tools)
        {
            w.WriteStartObject();
            w.WriteStartObject("toolSpec");
            w.WriteString("name", tool.Name);
            if (tool.Description.Length > 0)
            {
                w.WriteString("description", tool.Description);
            }
            w.WriteStartObject("inputSchema");
            w.WritePropertyName("json");
            if (tool.ParametersJson.Length > 0)
            {
                w.WriteRawValue(tool.ParametersJson, skipInputValidation: true);
            }
            else
            {
                w.WriteStartObject();
                w.WriteString("type", "object");
                w.WriteStartObject("properties");
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        if (mode is ToolChoice.Types.Mode.Required or ToolChoice.Types.Mode.Function or ToolChoice.Types.Mode.Auto)
        {
            w.WriteStartObject("toolChoice");
            switch (mode)
            {
                case ToolChoice.Types.Mode.Required:
                    w.WriteStartObject("any");
                    w.WriteEndObject();
                    break;
                case ToolChoice.Types.Mode.Function:
                    w.WriteStartObject("tool");
                    w.WriteString("name", request.ToolChoice!.FunctionName);
                    w.WriteEndObject();
                    break;
                default:
                    w.WriteStartObject("auto");
                    w.WriteEndObject();
                    break;
            }
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    // ---- responses: Converse -> neutral --------------------------------------------------------------

    public static ChatResponse ReadResponse(JsonElement root, string id, string model, long created)
    {
        var message = new Message { Role = Role.Assistant };
        foreach (var block in OptArray(OptObject(OptObject(root, "output"), "message"), "content"))
        {
            if (OptString(block, "text") is { } text)
            {
                message.Content.Add(new ContentPart { Text = text });
            }
            else if (OptObject(block, "toolUse") is { ValueKind: JsonValueKind.Object } toolUse)
            {
                message.ToolCalls.Add(new ToolCall
                {
                    Id = OptString(toolUse, "toolUseId") ?? "",
                    Name = OptString(toolUse, "name") ?? "",
                    Arguments = OptObject(toolUse, "input") is { ValueKind: JsonValueKind.Object } input ? input.GetRawText() : "{}",
                });
            }
            else if (OptObject(block, "reasoningContent") is { ValueKind: JsonValueKind.Object } reasoning)
            {
                var reasoningText = OptObject(reasoning, "reasoningText");
                message.Reasoning.Add(new ReasoningBlock
                {
                    Text = OptString(reasoningText, "text") ?? "",
                    Signature = OptString(reasoningText, "signature") ?? "",
                    RedactedData = OptString(reasoning, "redactedContent") ?? "",
                });
            }
        }
        return new ChatResponse
        {
            Id = id,
            Model = model,
            Created = created,
            Usage = ReadUsage(OptObject(root, "usage")),
            Choices = { new Choice { Index = 0, Message = message, FinishReason = ParseStopReason(OptString(root, "stopReason")) } },
        };
    }

    // Converse counts cache reads and writes apart from inputTokens (as Claude does); the neutral
    // InputTokens is the whole prompt.
    public static Usage ReadUsage(JsonElement usage)
    {
        if (usage.ValueKind != JsonValueKind.Object)
        {
            return new Usage();
        }
        var cacheRead = OptInt(usage, "cacheReadInputTokens");
        var cacheWrite = OptInt(usage, "cacheWriteInputTokens");
        return new Usage
        {
            InputTokens = OptInt(usage, "inputTokens") + cacheRead + cacheWrite,
            OutputTokens = OptInt(usage, "outputTokens"),
            CachedInputTokens = cacheRead,
            CacheCreationInputTokens = cacheWrite,
        };
    }

    public static FinishReason ParseStopReason(string? value) => value switch
    {
        "end_turn" or "stop_sequence" => FinishReason.Stop,
        "max_tokens" or "model_context_window_exceeded" => FinishReason.Length,
        "tool_use" => FinishReason.ToolCalls,
        "guardrail_intervened" or "content_filtered" => FinishReason.ContentFilter,
        _ => FinishReason.Unspecified,
    };
}
