using System.Text.Json;
using Gateway.Common.Errors;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;
using static Gateway.Router.Providers.JsonRead;

namespace Gateway.Router.Providers.Anthropic;

// The Anthropic Messages wire format <-> the neutral Inference contract. One codec serves both sides:
// the edge reads client requests (strict: 400 naming the field) and writes responses; the provider adapter
// writes requests and reads responses (lenient). Streams live in AnthropicStreamDecoder/-Encoder.
public static class AnthropicCodec
{
    public const string ApiVersion = "2023-06-01";

    // Anthropic requires max_tokens; this is what the gateway asks for when the client did not say.
    public const int DefaultMaxTokens = 4096;

    private const int MaxToolNameLength = 128;
    private const int MinThinkingBudget = 1024;

    // ---- requests: client (Anthropic shape) -> neutral ---------------------------------------------

    public static ChatRequest ReadRequest(JsonElement root, out bool stream)
    {
        RequireObject(root, "body");
        var request = new ChatRequest { Model = RequireString(root, "model", "model") };
        if (request.Model.Length == 0)
        {
            throw GatewayException.BadRequest("'model' must not be empty.", "model");
        }
        request.MaxTokens = Int(root, "max_tokens", "max_tokens", 1)
            ?? throw GatewayException.BadRequest("Missing required parameter: 'max_tokens'.", "max_tokens", "missing_required_parameter");
        if (TryGet(root, "system", out var system))
        {
            request.Messages.Add(ReadSystem(system));
        }
        if (!TryGet(root, "messages", out var messages))
        {
            throw GatewayException.BadRequest("Missing required parameter: 'messages'.", "messages", "missing_required_parameter");
        }
        var index = 0;
        var any = false;
        foreach (var message in Array(messages, "messages"))
        {
            ReadMessage(message, $"messages[{index++}]", request.Messages);
            any = true;
        }
        if (!any)
        {
            throw GatewayException.BadRequest("'messages' must contain at least one message.", "messages", "empty_array");
        }
        if (TryGet(root, "tools", out var tools))
        {
            index = 0;
            foreach (var tool in Array(tools, "tools"))
            {
                request.Tools.Add(ReadTool(tool, $"tools[{index++}]"));
            }
        }
        if (TryGet(root, "tool_choice", out var toolChoice))
        {
            ReadToolChoice(toolChoice, request);
        }
        if (TryGet(root, "stop_sequences", out var stop))
        {
            index = 0;
            foreach (var item in Array(stop, "stop_sequences"))
            {
                request.Stop.Add(item.ValueKind == JsonValueKind.String ? item.GetString()! : throw WrongType($"stop_sequences[{index}]", "a string", item));
                index++;
            }
        }
        if (Number(root, "temperature", "temperature", 0, 1) is { } temperature)
        {
            request.Temperature = temperature;
        }
        if (Number(root, "top_p", "top_p", 0, 1) is { } topP)
        {
            request.TopP = topP;
        }
        if (Int(root, "top_k", "top_k", 0) is { } topK)
        {
            request.TopK = topK;
        }
        if (TryGet(root, "metadata", out var metadata))
        {
            request.User = String(RequireObject(metadata, "metadata"), "user_id", "metadata.user_id") ?? "";
        }
        if (TryGet(root, "thinking", out var thinking))
        {
            ReadThinking(thinking, request);
        }
        stream = Bool(root, "stream", "stream") ?? false;
        return request;
    }

    private static Message ReadSystem(JsonElement system)
    {
        var message = new Message { Role = Role.System };
        if (system.ValueKind == JsonValueKind.String)
        {
            message.Content.Add(new ContentPart { Text = system.GetString()! });
            return message;
        }
        var index = 0;
        foreach (var block in Array(system, "system"))
        {
            var path = $"system[{index++}]";
            RequireObject(block, path);
            var type = RequireString(block, "type", $"{path}.type");
            if (type != "text")
            {
                throw GatewayException.BadRequest($"Invalid value for '{path}.type': '{type}'. System blocks must be 'text'.", $"{path}.type", "invalid_value");
            }
            message.Content.Add(new ContentPart { Text = RequireString(block, "text", $"{path}.text") });
        }
        return message;
    }

    // One Anthropic message can become several neutral ones: tool_result blocks are neutral tool messages.
    private static void ReadMessage(JsonElement element, string path, ICollection<Message> output)
    {
        RequireObject(element, path);
        var roleText = RequireString(element, "role", $"{path}.role");
        var role = roleText switch
        {
            "user" => Role.User,
            "assistant" => Role.Assistant,
            "system" => Role.System,
            _ => throw GatewayException.BadRequest($"Invalid value for '{path}.role': '{roleText}'. Supported values are: 'user' and 'assistant'.", $"{path}.role", "invalid_value"),
        };
        if (!TryGet(element, "content", out var content))
        {
            throw GatewayException.BadRequest($"Missing required parameter: '{path}.content'.", $"{path}.content", "missing_required_parameter");
        }
        if (content.ValueKind == JsonValueKind.String)
        {
            var simple = new Message { Role = role };
            simple.Content.Add(new ContentPart { Text = content.GetString()! });
            output.Add(simple);
            return;
        }
        var message = new Message { Role = role };
        var index = 0;
        foreach (var block in Array(content, $"{path}.content"))
        {
            var blockPath = $"{path}.content[{index++}]";
            RequireObject(block, blockPath);
            var type = RequireString(block, "type", $"{blockPath}.type");
            switch (type)
            {
                case "text":
                    message.Content.Add(new ContentPart { Text = RequireString(block, "text", $"{blockPath}.text") });
                    break;
                case "image" when role == Role.User:
                    message.Content.Add(new ContentPart { Image = ReadImage(block, blockPath) });
                    break;
                case "tool_result" when role == Role.User:
                    // Keep the order of the conversation: text before a tool result stays before it.
                    if (message.Content.Count > 0)
                    {
                        output.Add(message);
                        message = new Message { Role = role };
                    }
                    output.Add(ReadToolResult(block, blockPath));
                    break;
                case "tool_use" when role == Role.Assistant:
                    var input = TryGet(block, "input", out var i) ? RequireObject(i, $"{blockPath}.input") : throw GatewayException.BadRequest($"Missing required parameter: '{blockPath}.input'.", $"{blockPath}.input", "missing_required_parameter");
                    message.ToolCalls.Add(new ToolCall
                    {
                        Id = RequireString(block, "id", $"{blockPath}.id"),
                        Name = RequireString(block, "name", $"{blockPath}.name"),
                        Arguments = input.GetRawText(),
                    });
                    break;
                case "thinking" when role == Role.Assistant:
                    message.Reasoning.Add(new ReasoningBlock
                    {
                        Text = RequireString(block, "thinking", $"{blockPath}.thinking"),
                        Signature = String(block, "signature", $"{blockPath}.signature") ?? "",
                    });
                    break;
                case "redacted_thinking" when role == Role.Assistant:
                    message.Reasoning.Add(new ReasoningBlock { RedactedData = RequireString(block, "data", $"{blockPath}.data") });
                    break;
                default:
                    throw GatewayException.BadRequest($"Invalid value for '{blockPath}.type': '{type}' is not supported in a {roleText} message.", $"{blockPath}.type", "invalid_value");
            }
        }
        // A message of only tool results is fully represented by the tool messages already added.
        if (message.Content.Count > 0 || message.ToolCalls.Count > 0 || message.Reasoning.Count > 0 || index == 0)
        {
            output.Add(message);
        }
    }

    private static Message ReadToolResult(JsonElement block, string path)
    {
        var message = new Message
        {
            Role = Role.Tool,
            ToolCallId = RequireString(block, "tool_use_id", $"{path}.tool_use_id"),
            IsError = Bool(block, "is_error", $"{path}.is_error") ?? false,
        };
        if (!TryGet(block, "content", out var content))
        {
            return message;
        }
        if (content.ValueKind == JsonValueKind.String)
        {
            message.Content.Add(new ContentPart { Text = content.GetString()! });
            return message;
        }
        var index = 0;
        foreach (var part in Array(content, $"{path}.content"))
        {
            var partPath = $"{path}.content[{index++}]";
            RequireObject(part, partPath);
            var type = RequireString(part, "type", $"{partPath}.type");
            message.Content.Add(type switch
            {
                "text" => new ContentPart { Text = RequireString(part, "text", $"{partPath}.text") },
                "image" => new ContentPart { Image = ReadImage(part, partPath) },
                _ => throw GatewayException.BadRequest($"Invalid value for '{partPath}.type': '{type}'. Tool results may hold 'text' and 'image' blocks.", $"{partPath}.type", "invalid_value"),
            });
        }
        return message;
    }

    private static ImagePart ReadImage(JsonElement block, string path)
    {
        var source = TryGet(block, "source", out var s) ? RequireObject(s, $"{path}.source") : throw GatewayException.BadRequest($"Missing required parameter: '{path}.source'.", $"{path}.source", "missing_required_parameter");
        var type = RequireString(source, "type", $"{path}.source.type");
        switch (type)
        {
            case "base64":
                var mediaType = RequireString(source, "media_type", $"{path}.source.media_type");
                return new ImagePart { Url = $"data:{mediaType};base64,{RequireString(source, "data", $"{path}.source.data")}" };
            case "url":
                var url = RequireString(source, "url", $"{path}.source.url");
                if (!url.StartsWith("https://", StringComparison.Ordinal) && !url.StartsWith("http://", StringComparison.Ordinal))
                {
                    throw GatewayException.BadRequest($"Invalid '{path}.source.url': use an http(s) URL.", $"{path}.source.url", "invalid_value");
                }
                return new ImagePart { Url = url };
            default:
                throw GatewayException.BadRequest($"Invalid value for '{path}.source.type': '{type}'. Use 'base64' or 'url'.", $"{path}.source.type", "invalid_value");
        }
    }

    private static Tool ReadTool(JsonElement element, string path)
    {
        RequireObject(element, path);
        // Server tools (web_search_*, bash_*, ...) run inside Anthropic and cannot be served by other providers.
        if (String(element, "type", $"{path}.type") is { } type && type != "custom")
        {
            throw GatewayException.BadRequest($"Invalid value for '{path}.type': '{type}'. The gateway supports client tools only (omit 'type' or use 'custom').", $"{path}.type", "invalid_value");
        }
        var name = RequireString(element, "name", $"{path}.name");
        if (name.Length is 0 or > MaxToolNameLength || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
        {
            throw GatewayException.BadRequest($"Invalid '{path}.name': use 1 to {MaxToolNameLength} letters, digits, '_' or '-'.", $"{path}.name", "invalid_value");
        }
        var schema = TryGet(element, "input_schema", out var s) ? RequireObject(s, $"{path}.input_schema") : throw GatewayException.BadRequest($"Missing required parameter: '{path}.input_schema'.", $"{path}.input_schema", "missing_required_parameter");
        return new Tool
        {
            Name = name,
            Description = String(element, "description", $"{path}.description") ?? "",
            ParametersJson = schema.GetRawText(),
        };
    }

    private static void ReadToolChoice(JsonElement element, ChatRequest request)
    {
        RequireObject(element, "tool_choice");
        var type = RequireString(element, "type", "tool_choice.type");
        request.ToolChoice = type switch
        {
            "auto" => new ToolChoice { Mode = ToolChoice.Types.Mode.Auto },
            "any" => new ToolChoice { Mode = ToolChoice.Types.Mode.Required },
            "none" => new ToolChoice { Mode = ToolChoice.Types.Mode.None },
            "tool" => new ToolChoice { Mode = ToolChoice.Types.Mode.Function, FunctionName = RequireString(element, "name", "tool_choice.name") },
            _ => throw GatewayException.BadRequest($"Invalid value for 'tool_choice.type': '{type}'. Use 'auto', 'any', 'tool' or 'none'.", "tool_choice.type", "invalid_value"),
        };
        if (Bool(element, "disable_parallel_tool_use", "tool_choice.disable_parallel_tool_use") is { } disable)
        {
            request.ParallelToolCalls = !disable;
        }
    }

    private static void ReadThinking(JsonElement element, ChatRequest request)
    {
        RequireObject(element, "thinking");
        var type = RequireString(element, "type", "thinking.type");
        switch (type)
        {
            case "enabled":
                var budget = Int(element, "budget_tokens", "thinking.budget_tokens", MinThinkingBudget)
                    ?? throw GatewayException.BadRequest("Missing required parameter: 'thinking.budget_tokens'.", "thinking.budget_tokens", "missing_required_parameter");
                if (budget >= request.MaxTokens)
                {
                    throw GatewayException.BadRequest("'max_tokens' must be greater than 'thinking.budget_tokens'.", "thinking.budget_tokens", "invalid_value");
                }
                request.Reasoning = new Reasoning { BudgetTokens = budget };
                break;
            case "disabled":
            // Adaptive thinking lets the model decide; the neutral contract has no such mode, so the request
            // is served without an explicit budget rather than refused.
            case "adaptive":
                break;
            default:
                throw GatewayException.BadRequest($"Invalid value for 'thinking.type': '{type}'. Use 'enabled', 'disabled' or 'adaptive'.", "thinking.type", "invalid_value");
        }
    }

    // ---- requests: neutral -> provider (Anthropic shape) --------------------------------------------

    // `model` null: the endpoint names the model and the body names the API version instead (Anthropic on
    // Vertex AI: `anthropic_version: vertex-2023-10-16`).
    public static void WriteRequest(Utf8JsonWriter w, ChatRequest request, string? model, bool stream, string? anthropicVersion = null)
    {
        w.WriteStartObject();
        if (model is not null)
        {
            w.WriteString("model", model);
        }
        if (anthropicVersion is not null)
        {
            w.WriteString("anthropic_version", anthropicVersion);
        }
        w.WriteNumber("max_tokens", MaxTokens(request));
        WriteSystem(w, request);
        WriteMessages(w, request);
        if (request.Tools.Count > 0)
        {
            w.WriteStartArray("tools");
            foreach (var tool in request.Tools)
            {
                w.WriteStartObject();
                w.WriteString("name", tool.Name);
                if (tool.Description.Length > 0)
                {
                    w.WriteString("description", tool.Description);
                }
                w.WritePropertyName("input_schema");
                if (tool.ParametersJson.Length > 0)
                {
                    w.WriteRawValue(tool.ParametersJson, skipInputValidation: true);
                }
                else
                {
                    // Anthropic requires a schema; OpenAI allows a tool without parameters.
                    w.WriteStartObject();
                    w.WriteString("type", "object");
                    w.WriteStartObject("properties");
                    w.WriteEndObject();
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            WriteToolChoice(w, request);
        }
        if (request.Stop.Count > 0)
        {
            w.WriteStartArray("stop_sequences");
            foreach (var s in request.Stop)
            {
                w.WriteStringValue(s);
            }
            w.WriteEndArray();
        }
        if (request.HasTemperature)
        {
            // OpenAI accepts 0-2, Anthropic 0-1 and refuses more: the closest answer beats a 400.
            w.WriteNumber("temperature", Math.Clamp(request.Temperature, 0, 1));
        }
        if (request.HasTopP)
        {
            w.WriteNumber("top_p", request.TopP);
        }
        if (request.HasTopK)
        {
            w.WriteNumber("top_k", request.TopK);
        }
        if (request.User.Length > 0)
        {
            w.WriteStartObject("metadata");
            w.WriteString("user_id", request.User);
            w.WriteEndObject();
        }
        if (request.Reasoning is { BudgetTokens: > 0 } reasoning)
        {
            w.WriteStartObject("thinking");
            w.WriteString("type", "enabled");
            w.WriteNumber("budget_tokens", reasoning.BudgetTokens);
            w.WriteEndObject();
        }
        if (stream)
        {
            w.WriteBoolean("stream", true);
        }
        w.WriteEndObject();
    }

    private static int MaxTokens(ChatRequest request)
    {
        if (request.HasMaxTokens)
        {
            return request.MaxTokens;
        }
        // Anthropic wants max_tokens above the thinking budget: leave the default room for the answer itself.
        var budget = request.Reasoning?.BudgetTokens ?? 0;
        return budget > 0 ? budget + DefaultMaxTokens : DefaultMaxTokens;
    }

    private static void WriteSystem(Utf8JsonWriter w, ChatRequest request)
    {
        var texts = new List<string>();
        foreach (var message in request.Messages)
        {
            if (message.Role is Role.System or Role.Developer)
            {
                texts.AddRange(message.Content.Where(p => p.PartCase == ContentPart.PartOneofCase.Text && p.Text.Length > 0).Select(p => p.Text));
            }
        }
        if (ResponseFormatInstruction(request.ResponseFormat) is { } instruction)
        {
            texts.Add(instruction);
        }
        if (texts.Count == 1)
        {
            w.WriteString("system", texts[0]);
        }
        else if (texts.Count > 1)
        {
            w.WriteStartArray("system");
            foreach (var text in texts)
            {
                WriteTextBlock(w, text);
            }
            w.WriteEndArray();
        }
    }

    // The Messages API (2023-06-01) has no response_format. Forcing a tool call would turn the answer into a
    // tool_use block (not the text the client expects) and clash with the client's own tools, so JSON mode
    // becomes a system instruction instead: the model answers in text, and that text is the JSON.
    internal static string? ResponseFormatInstruction(ResponseFormat? format) => format?.Type switch
    {
        ResponseFormat.Types.Type.JsonObject =>
            "Respond with a single valid JSON object and nothing else: no Markdown code fences, no text before or after it.",
        ResponseFormat.Types.Type.JsonSchema =>
            $"Respond with a single valid JSON object and nothing else: no Markdown code fences, no text before or after it. "
            + $"The object must conform to the JSON Schema named '{format.SchemaName}'"
            + (format.Description.Length > 0 ? $" ({format.Description})" : "")
            + (format.SchemaJson.Length > 0 ? $":\n{format.SchemaJson}" : "."),
        _ => null,
    };

    // Anthropic (and Bedrock's Converse) alternate user and assistant turns: tool results travel inside a
    // user turn, and consecutive turns of one side (tool results followed by user text, say) merge into one.
    // System messages and messages with nothing to send are left out; each message keeps its request index.
    internal static List<(string Role, List<(Message Message, int Index)> Messages)> Turns(ChatRequest request)
    {
        var turns = new List<(string Role, List<(Message Message, int Index)> Messages)>();
        for (var i = 0; i < request.Messages.Count; i++)
        {
            var message = request.Messages[i];
            if (message.Role is Role.System or Role.Developer || !HasBlocks(message))
            {
                continue;
            }
            var role = message.Role == Role.Assistant ? "assistant" : "user";
            if (turns.Count > 0 && turns[^1].Role == role)
            {
                turns[^1].Messages.Add((message, i));
            }
            else
            {
                turns.Add((role, [(message, i)]));
            }
        }
        return turns;
    }

    private static void WriteMessages(Utf8JsonWriter w, ChatRequest request)
    {
        w.WriteStartArray("messages");
        foreach (var (role, messages) in Turns(request))
        {
            w.WriteStartObject();
            w.WriteString("role", role);
            if (messages is [var (only, _)] && only.Role != Role.Tool && only.ToolCalls.Count == 0 && only.Reasoning.Count == 0
                && only.Refusal.Length == 0 && only.Content is [{ PartCase: ContentPart.PartOneofCase.Text } single])
            {
                w.WriteString("content", single.Text);
            }
            else
            {
                w.WriteStartArray("content");
                foreach (var (message, index) in messages)
                {
                    WriteBlocks(w, message, index);
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static bool HasBlocks(Message message)
        => message.Role == Role.Tool || message.ToolCalls.Count > 0 || message.Reasoning.Count > 0 || message.Refusal.Length > 0
           || message.Content.Any(p => p.PartCase == ContentPart.PartOneofCase.Image || p.Text.Length > 0);

    private static void WriteBlocks(Utf8JsonWriter w, Message message, int index)
    {
        if (message.Role == Role.Tool)
        {
            WriteToolResult(w, message);
            return;
        }
        // Thinking first: Anthropic wants an assistant turn to start with the thinking that led to it.
        foreach (var reasoning in message.Reasoning)
        {
            WriteReasoning(w, reasoning);
        }
        foreach (var part in message.Content)
        {
            WritePart(w, part);
        }
        if (message.Refusal.Length > 0)
        {
            WriteTextBlock(w, message.Refusal);
        }
        for (var j = 0; j < message.ToolCalls.Count; j++)
        {
            var call = message.ToolCalls[j];
            w.WriteStartObject();
            w.WriteString("type", "tool_use");
            w.WriteString("id", call.Id);
            w.WriteString("name", call.Name);
            w.WritePropertyName("input");
            WriteArguments(w, call.Arguments, $"messages[{index}].tool_calls[{j}].function.arguments");
            w.WriteEndObject();
        }
    }

    private static void WriteArguments(Utf8JsonWriter w, string arguments, string path)
    {
        if (!TryWriteInput(w, arguments))
        {
            throw GatewayException.BadRequest($"Invalid '{path}': the arguments must be a JSON object to be sent as Anthropic tool_use input.", path, "invalid_value");
        }
    }

    // Tool arguments (JSON text) as a tool_use input object; empty arguments are the empty object.
    internal static bool TryWriteInput(Utf8JsonWriter w, string arguments)
    {
        if (string.IsNullOrWhiteSpace(arguments))
        {
            w.WriteStartObject();
            w.WriteEndObject();
            return true;
        }
        try
        {
            using var document = JsonDocument.Parse(arguments);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                document.RootElement.WriteTo(w);
                return true;
            }
        }
        catch (JsonException)
        {
            // Not JSON at all: the caller reports it.
        }
        return false;
    }

    private static void WriteToolResult(Utf8JsonWriter w, Message message)
    {
        w.WriteStartObject();
        w.WriteString("type", "tool_result");
        w.WriteString("tool_use_id", message.ToolCallId);
        if (message.Content.All(p => p.PartCase == ContentPart.PartOneofCase.Text) && message.Content.Count <= 1)
        {
            w.WriteString("content", message.Content.Count == 1 ? message.Content[0].Text : "");
        }
        else
        {
            w.WriteStartArray("content");
            foreach (var part in message.Content)
            {
                WritePart(w, part);
            }
            w.WriteEndArray();
        }
        if (message.IsError)
        {
            w.WriteBoolean("is_error", true);
        }
        w.WriteEndObject();
    }

    private static void WritePart(Utf8JsonWriter w, ContentPart part)
    {
        if (part.PartCase != ContentPart.PartOneofCase.Image)
        {
            // Anthropic refuses empty text blocks.
            if (part.Text.Length > 0)
            {
                WriteTextBlock(w, part.Text);
            }
            return;
        }
        w.WriteStartObject();
        w.WriteString("type", "image");
        w.WriteStartObject("source");
        var url = part.Image.Url;
        if (url.StartsWith("data:", StringComparison.Ordinal) && url.IndexOf(";base64,", StringComparison.Ordinal) is var marker and > 5)
        {
            w.WriteString("type", "base64");
            w.WriteString("media_type", url[5..marker]);
            w.WriteString("data", url[(marker + 8)..]);
        }
        else
        {
            w.WriteString("type", "url");
            w.WriteString("url", url);
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteReasoning(Utf8JsonWriter w, ReasoningBlock reasoning)
    {
        w.WriteStartObject();
        if (reasoning.RedactedData.Length > 0)
        {
            w.WriteString("type", "redacted_thinking");
            w.WriteString("data", reasoning.RedactedData);
        }
        else
        {
            w.WriteString("type", "thinking");
            w.WriteString("thinking", reasoning.Text);
            w.WriteString("signature", reasoning.Signature);
        }
        w.WriteEndObject();
    }

    private static void WriteTextBlock(Utf8JsonWriter w, string text)
    {
        w.WriteStartObject();
        w.WriteString("type", "text");
        w.WriteString("text", text);
        w.WriteEndObject();
    }

    private static void WriteToolChoice(Utf8JsonWriter w, ChatRequest request)
    {
        var mode = request.ToolChoice?.Mode ?? ToolChoice.Types.Mode.Unspecified;
        var disableParallel = request.HasParallelToolCalls && !request.ParallelToolCalls;
        if (mode == ToolChoice.Types.Mode.Unspecified && !disableParallel)
        {
            return;
        }
        w.WriteStartObject("tool_choice");
        switch (mode)
        {
            case ToolChoice.Types.Mode.None:
                w.WriteString("type", "none");
                break;
            case ToolChoice.Types.Mode.Required:
                w.WriteString("type", "any");
                break;
            case ToolChoice.Types.Mode.Function:
                w.WriteString("type", "tool");
                w.WriteString("name", request.ToolChoice!.FunctionName);
                break;
            default:
                w.WriteString("type", "auto");
                break;
        }
        if (disableParallel && mode != ToolChoice.Types.Mode.None)
        {
            w.WriteBoolean("disable_parallel_tool_use", true);
        }
        w.WriteEndObject();
    }

    // ---- responses: provider (Anthropic shape) -> neutral -------------------------------------------

    public static ChatResponse ReadResponse(JsonElement root)
    {
        var message = new Message { Role = Role.Assistant };
        foreach (var block in OptArray(root, "content"))
        {
            ReadBlock(block, message);
        }
        var stopReason = OptString(root, "stop_reason");
        return new ChatResponse
        {
            Id = OptString(root, "id") ?? "",
            Model = OptString(root, "model") ?? "",
            Usage = ReadUsage(OptObject(root, "usage")),
            Choices =
            {
                new Choice
                {
                    Index = 0,
                    Message = message,
                    FinishReason = ParseStopReason(stopReason),
                    StopSequence = OptString(root, "stop_sequence") ?? "",
                },
            },
        };
    }

    private static void ReadBlock(JsonElement block, Message message)
    {
        switch (OptString(block, "type"))
        {
            case "text":
                message.Content.Add(new ContentPart { Text = OptString(block, "text") ?? "" });
                break;
            case "tool_use":
                message.ToolCalls.Add(new ToolCall
                {
                    Id = OptString(block, "id") ?? "",
                    Name = OptString(block, "name") ?? "",
                    Arguments = OptObject(block, "input") is { ValueKind: JsonValueKind.Object } input ? input.GetRawText() : "{}",
                });
                break;
            case "thinking":
                message.Reasoning.Add(new ReasoningBlock { Text = OptString(block, "thinking") ?? "", Signature = OptString(block, "signature") ?? "" });
                break;
            case "redacted_thinking":
                message.Reasoning.Add(new ReasoningBlock { RedactedData = OptString(block, "data") ?? "" });
                break;
            // Server tool blocks (web search and the like) have no neutral form and are not requested by the gateway.
        }
    }

    // Anthropic counts cached tokens apart from input_tokens; the neutral InputTokens is the whole prompt.
    public static Usage ReadUsage(JsonElement usage)
    {
        if (usage.ValueKind != JsonValueKind.Object)
        {
            return new Usage();
        }
        var cacheRead = OptInt(usage, "cache_read_input_tokens");
        var cacheCreation = OptInt(usage, "cache_creation_input_tokens");
        return new Usage
        {
            InputTokens = OptInt(usage, "input_tokens") + cacheRead + cacheCreation,
            OutputTokens = OptInt(usage, "output_tokens"),
            CachedInputTokens = cacheRead,
            CacheCreationInputTokens = cacheCreation,
            ReasoningTokens = OptInt(OptObject(usage, "output_tokens_details"), "thinking_tokens"),
        };
    }

    public static FinishReason ParseStopReason(string? value) => value switch
    {
        "end_turn" or "stop_sequence" or "pause_turn" => FinishReason.Stop,
        "max_tokens" or "model_context_window_exceeded" => FinishReason.Length,
        "tool_use" => FinishReason.ToolCalls,
        "refusal" => FinishReason.ContentFilter,
        _ => FinishReason.Unspecified,
    };

    // ---- responses: neutral -> client (Anthropic shape) ---------------------------------------------

    // Anthropic message ids start with msg_; other providers' ids (chatcmpl-...) are replaced by the trace id.
    public static string MessageId(string upstreamId, string requestId)
        => upstreamId.StartsWith("msg_", StringComparison.Ordinal) ? upstreamId : "msg_" + requestId;

    public static void WriteResponse(Utf8JsonWriter w, ChatResponse response, string messageId)
    {
        var choice = response.Choices.FirstOrDefault() ?? new Choice { Message = new Message { Role = Role.Assistant } };
        var message = choice.Message ?? new Message();
        w.WriteStartObject();
        w.WriteString("id", messageId);
        w.WriteString("type", "message");
        w.WriteString("role", "assistant");
        w.WriteString("model", response.Model);
        w.WriteStartArray("content");
        foreach (var reasoning in message.Reasoning)
        {
            WriteReasoning(w, reasoning);
        }
        foreach (var part in message.Content)
        {
            if (part.PartCase == ContentPart.PartOneofCase.Text && part.Text.Length > 0)
            {
                WriteTextBlock(w, part.Text);
            }
        }
        if (message.Refusal.Length > 0)
        {
            WriteTextBlock(w, message.Refusal);
        }
        for (var i = 0; i < message.ToolCalls.Count; i++)
        {
            var call = message.ToolCalls[i];
            w.WriteStartObject();
            w.WriteString("type", "tool_use");
            w.WriteString("id", ToolUseId(call.Id, messageId, i));
            w.WriteString("name", call.Name);
            w.WritePropertyName("input");
            // Arguments that are not a JSON object cannot become a valid Anthropic answer.
            if (!TryWriteInput(w, call.Arguments))
            {
                throw new GatewayException(ErrorKind.UpstreamError, "The provider returned tool arguments that are not a JSON object.");
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        WriteStopReason(w, choice.FinishReason, choice.StopSequence, message.ToolCalls.Count > 0);
        WriteUsage(w, response.Usage ?? new Usage());
        w.WriteEndObject();
    }

    internal static string ToolUseId(string id, string messageId, int ordinal)
        => id.Length > 0 ? id : $"toolu_{messageId.Replace("msg_", "", StringComparison.Ordinal)}_{ordinal}";

    internal static void WriteStopReason(Utf8JsonWriter w, FinishReason reason, string stopSequence, bool hasToolCalls)
    {
        w.WriteString("stop_reason", reason switch
        {
            FinishReason.Stop when stopSequence.Length > 0 => "stop_sequence",
            FinishReason.Length => "max_tokens",
            FinishReason.ToolCalls => "tool_use",
            FinishReason.ContentFilter => "refusal",
            FinishReason.Unspecified when hasToolCalls => "tool_use",
            _ => "end_turn",
        });
        if (reason == FinishReason.Stop && stopSequence.Length > 0)
        {
            w.WriteString("stop_sequence", stopSequence);
        }
        else
        {
            w.WriteNull("stop_sequence");
        }
    }

    // Back to Anthropic's split: input_tokens excludes what was read from or written to the cache.
    internal static void WriteUsage(Utf8JsonWriter w, Usage usage)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("input_tokens", Math.Max(0, usage.InputTokens - usage.CachedInputTokens - usage.CacheCreationInputTokens));
        w.WriteNumber("cache_creation_input_tokens", usage.CacheCreationInputTokens);
        w.WriteNumber("cache_read_input_tokens", usage.CachedInputTokens);
        w.WriteNumber("output_tokens", usage.OutputTokens);
        w.WriteEndObject();
    }

    // ---- errors -------------------------------------------------------------------------------------

    // The HTTP status Anthropic uses for each error type, so an in-stream `error` event is classified exactly
    // like the same error arriving as a response.
    public static int StatusFor(string? errorType) => errorType switch
    {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        _ => 500,
    };
}
