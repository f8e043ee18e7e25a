using System.Text.Json;
using Gateway.Common.Errors;
using Gateway.Contracts.Inference.V1;
using Gateway.Router.Providers.OpenAI;
using static Gateway.Router.Providers.JsonRead;

namespace Gateway.Edge.OpenAi.Responses;

// A POST /v1/responses body, read strictly (400 naming the field) into the neutral ChatRequest the
// chat-completions endpoint also produces, plus what the response object echoes back.
public sealed class ResponsesRequest
{
    public required ChatRequest Chat { get; init; }

    // This turn's input as messages (instructions are not part of the conversation a later turn continues).
    public List<Message> Input { get; } = [];

    public string? Instructions { get; private set; }

    public string? PreviousResponseId { get; private set; }

    public bool Stream { get; private set; }

    public bool Store { get; private set; } = true;

    // Echoed verbatim in the response object, as OpenAI does.
    public string? ToolsJson { get; private set; }

    public string? ToolChoiceJson { get; private set; }

    public string? TextJson { get; private set; }

    public static ResponsesRequest Read(JsonElement root)
    {
        RequireObject(root, "body");
        var chat = new ChatRequest { Api = Api.Responses, Model = String(root, "model", "model") ?? "" };
        var request = new ResponsesRequest { Chat = chat };
        if (TryGet(root, "prompt", out var prompt))
        {
            chat.Prompt = OpenAiChatCodec.ReadPromptReference(prompt);
        }
        else if (chat.Model.Length == 0)
        {
            throw GatewayException.BadRequest("Missing required parameter: 'model'.", "model", "missing_required_parameter");
        }
        if (Bool(root, "background", "background") == true)
        {
            throw GatewayException.BadRequest("'background' responses are not supported by this gateway; omit it or set it to false.", "background", "unsupported_parameter");
        }
        if (TryGet(root, "conversation", out _))
        {
            throw GatewayException.BadRequest("'conversation' is not supported by this gateway; chain turns with 'previous_response_id'.", "conversation", "unsupported_parameter");
        }
        request.Instructions = String(root, "instructions", "instructions");
        request.PreviousResponseId = String(root, "previous_response_id", "previous_response_id");
        if (request.PreviousResponseId is { Length: 0 or > 128 })
        {
            throw GatewayException.BadRequest("Invalid 'previous_response_id': expected the id of an earlier response, e.g. resp_...", "previous_response_id", "invalid_value");
        }
        request.Stream = Bool(root, "stream", "stream") ?? false;
        request.Store = Bool(root, "store", "store") ?? true;
        if (TryGet(root, "input", out var input))
        {
            ReadInput(input, request.Input);
        }
        else if (chat.Prompt is null)
        {
            throw GatewayException.BadRequest("Missing required parameter: 'input'.", "input", "missing_required_parameter");
        }
        if (TryGet(root, "tools", out var tools))
        {
            var index = 0;
            foreach (var tool in Array(tools, "tools"))
            {
                chat.Tools.Add(ReadTool(tool, $"tools[{index++}]"));
            }
            request.ToolsJson = tools.GetRawText();
        }
        if (TryGet(root, "tool_choice", out var toolChoice))
        {
            chat.ToolChoice = ReadToolChoice(toolChoice);
            request.ToolChoiceJson = toolChoice.GetRawText();
        }
        if (Bool(root, "parallel_tool_calls", "parallel_tool_calls") is { } parallel)
        {
            chat.ParallelToolCalls = parallel;
        }
        if (TryGet(root, "text", out var text))
        {
            if (TryGet(RequireObject(text, "text"), "format", out var format))
            {
                chat.ResponseFormat = ReadFormat(format);
            }
            request.TextJson = text.GetRawText();
        }
        if (Number(root, "temperature", "temperature", 0, 2) is { } temperature)
        {
            chat.Temperature = temperature;
        }
        if (Number(root, "top_p", "top_p", 0, 1) is { } topP)
        {
            chat.TopP = topP;
        }
        if (Int(root, "max_output_tokens", "max_output_tokens", 1) is { } maxTokens)
        {
            chat.MaxTokens = maxTokens;
        }
        chat.User = String(root, "user", "user") ?? String(root, "safety_identifier", "safety_identifier") ?? "";
        if (TryGet(root, "metadata", out var metadata))
        {
            OpenAiChatCodec.ReadMetadata(metadata, chat);
        }
        if (TryGet(root, "reasoning", out var reasoning) && String(RequireObject(reasoning, "reasoning"), "effort", "reasoning.effort") is { } effort)
        {
            chat.Reasoning = new Reasoning { Effort = effort };
        }
        return request;
    }

    private static void ReadInput(JsonElement input, List<Message> messages)
    {
        if (input.ValueKind == JsonValueKind.String)
        {
            messages.Add(new Message { Role = Role.User, Content = { new ContentPart { Text = input.GetString()! } } });
            return;
        }
        var index = 0;
        foreach (var item in Array(input, "input"))
        {
            var path = $"input[{index++}]";
            RequireObject(item, path);
            var type = String(item, "type", $"{path}.type") ?? "message";
            switch (type)
            {
                case "message":
                    messages.Add(ReadMessage(item, path));
                    break;
                case "function_call":
                    var call = new ToolCall
                    {
                        Id = RequireString(item, "call_id", $"{path}.call_id"),
                        Name = RequireString(item, "name", $"{path}.name"),
                        Arguments = RequireString(item, "arguments", $"{path}.arguments"),
                    };
                    // Calls that follow an assistant message (or each other) belong to that one assistant turn.
                    if (messages.Count > 0 && messages[^1].Role == Role.Assistant)
                    {
                        messages[^1].ToolCalls.Add(call);
                    }
                    else
                    {
                        messages.Add(new Message { Role = Role.Assistant, ToolCalls = { call } });
                    }
                    break;
                case "function_call_output":
                    messages.Add(new Message
                    {
                        Role = Role.Tool,
                        ToolCallId = RequireString(item, "call_id", $"{path}.call_id"),
                        Content = { new ContentPart { Text = OutputText(item, $"{path}.output") } },
                    });
                    break;
                case "reasoning":
                    // The gateway emits no reasoning items; ones a client replays carry nothing a model needs.
                    break;
                default:
                    throw GatewayException.BadRequest($"Invalid value for '{path}.type': '{type}' is not supported; use 'message', 'function_call' or 'function_call_output'.", $"{path}.type", "invalid_value");
            }
        }
        if (messages.Count == 0)
        {
            throw GatewayException.BadRequest("'input' must contain at least one item.", "input", "empty_array");
        }
    }

    private static string OutputText(JsonElement item, string path)
    {
        if (!TryGet(item, "output", out var output))
        {
            throw GatewayException.BadRequest($"Missing required parameter: '{path}'.", path, "missing_required_parameter");
        }
        if (output.ValueKind == JsonValueKind.String)
        {
            return output.GetString()!;
        }
        var text = new System.Text.StringBuilder();
        var index = 0;
        foreach (var part in Array(output, path))
        {
            var partPath = $"{path}[{index++}]";
            var type = RequireString(RequireObject(part, partPath), "type", $"{partPath}.type");
            text.Append(type == "input_text"
                ? RequireString(part, "text", $"{partPath}.text")
                : throw GatewayException.BadRequest($"Invalid value for '{partPath}.type': only 'input_text' is supported in a function call output.", $"{partPath}.type", "invalid_value"));
        }
        return text.ToString();
    }

    private static Message ReadMessage(JsonElement item, string path)
    {
        var roleText = RequireString(item, "role", $"{path}.role");
        var role = roleText switch
        {
            "user" => Role.User,
            "assistant" => Role.Assistant,
            "system" => Role.System,
            "developer" => Role.Developer,
            _ => throw GatewayException.BadRequest($"Invalid value for '{path}.role': '{roleText}'. Supported values are: 'user', 'assistant', 'system' and 'developer'.", $"{path}.role", "invalid_value"),
        };
        var message = new Message { Role = role };
        if (!TryGet(item, "content", out var content))
        {
            throw GatewayException.BadRequest($"Missing required parameter: '{path}.content'.", $"{path}.content", "missing_required_parameter");
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
            var type = RequireString(RequireObject(part, partPath), "type", $"{partPath}.type");
            switch (type)
            {
                case "input_text":
                case "output_text" when role == Role.Assistant:
                    message.Content.Add(new ContentPart { Text = RequireString(part, "text", $"{partPath}.text") });
                    break;
                case "refusal" when role == Role.Assistant:
                    message.Refusal += RequireString(part, "refusal", $"{partPath}.refusal");
                    break;
                case "input_image" when role == Role.User:
                    var url = String(part, "image_url", $"{partPath}.image_url")
                        ?? throw GatewayException.BadRequest($"Missing '{partPath}.image_url': send the image as an http(s) URL or a data: URI (file ids are not supported).", $"{partPath}.image_url", "missing_required_parameter");
                    var detail = String(part, "detail", $"{partPath}.detail") ?? "";
                    message.Content.Add(new ContentPart { Image = OpenAiChatCodec.ReadImage(url, detail, $"{partPath}.image_url", $"{partPath}.detail") });
                    break;
                default:
                    throw GatewayException.BadRequest($"Invalid value for '{partPath}.type': '{type}' is not supported in a {roleText} message.", $"{partPath}.type", "invalid_value");
            }
        }
        return message;
    }

    // Responses tools are flat: { type: function, name, description, parameters, strict }.
    private static Tool ReadTool(JsonElement element, string path)
    {
        RequireObject(element, path);
        var type = RequireString(element, "type", $"{path}.type");
        if (type != "function")
        {
            throw GatewayException.BadRequest($"Invalid value for '{path}.type': '{type}' tools are not supported by this gateway; only 'function' tools are.", $"{path}.type", "invalid_value");
        }
        return OpenAiChatCodec.ReadFunction(element, path);
    }

    private static ToolChoice ReadToolChoice(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.String)
        {
            return element.GetString() switch
            {
                "auto" => new ToolChoice { Mode = ToolChoice.Types.Mode.Auto },
                "none" => new ToolChoice { Mode = ToolChoice.Types.Mode.None },
                "required" => new ToolChoice { Mode = ToolChoice.Types.Mode.Required },
                var other => throw GatewayException.BadRequest($"Invalid value for 'tool_choice': '{other}'. Use 'none', 'auto', 'required' or {{\"type\": \"function\", \"name\": ...}}.", "tool_choice", "invalid_value"),
            };
        }
        var type = RequireString(RequireObject(element, "tool_choice"), "type", "tool_choice.type");
        return type == "function"
            ? new ToolChoice { Mode = ToolChoice.Types.Mode.Function, FunctionName = RequireString(element, "name", "tool_choice.name") }
            : throw GatewayException.BadRequest($"Invalid value for 'tool_choice.type': '{type}'; only 'function' is supported.", "tool_choice.type", "invalid_value");
    }

    // text.format: { type: text } | { type: json_object } | { type: json_schema, name, schema, description?, strict? }.
    private static ResponseFormat ReadFormat(JsonElement format)
    {
        var type = RequireString(RequireObject(format, "text.format"), "type", "text.format.type");
        switch (type)
        {
            case "text":
                return new ResponseFormat { Type = ResponseFormat.Types.Type.Text };
            case "json_object":
                return new ResponseFormat { Type = ResponseFormat.Types.Type.JsonObject };
            case "json_schema":
                return OpenAiChatCodec.ReadJsonSchema(format, "text.format", schemaRequired: true);
            default:
                throw GatewayException.BadRequest($"Invalid value for 'text.format.type': '{type}'. Use 'text', 'json_object' or 'json_schema'.", "text.format.type", "invalid_value");
        }
    }
}
