using System.Globalization;
using System.Text.Json;
using Gateway.Common.Errors;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;
using static Gateway.Router.Providers.JsonRead;

namespace Gateway.Router.Providers.OpenAI;

// The OpenAI Chat Completions wire format <-> the neutral Inference contract. One codec serves both sides:
// the edge reads client requests and writes responses; the provider adapter writes requests and reads
// responses. Reading client input is strict (400 naming the field); reading provider output is lenient.
public static class OpenAiChatCodec
{
    private const int MaxToolNameLength = 64;

    // ---- requests -----------------------------------------------------------------------------------

    public static ChatRequest ReadRequest(JsonElement root, out bool stream)
    {
        RequireObject(root, "body");
        // With a `prompt`, model and messages may come from the prompt version (the pipeline checks the result).
        var withPrompt = root.TryGetProperty("prompt", out var promptElement) && promptElement.ValueKind != JsonValueKind.Null;
        var request = new ChatRequest { Model = withPrompt ? String(root, "model", "model") ?? "" : RequireString(root, "model", "model") };
        if (request.Model.Length == 0 && !withPrompt)
        {
            throw GatewayException.BadRequest("'model' must not be empty.", "model");
        }
        var hasMessages = root.TryGetProperty("messages", out var messages) && messages.ValueKind != JsonValueKind.Null;
        if (!hasMessages && !withPrompt)
        {
            throw GatewayException.BadRequest("Missing required parameter: 'messages'.", "messages", "missing_required_parameter");
        }
        var index = 0;
        if (hasMessages)
        {
            foreach (var message in Array(messages, "messages"))
            {
                request.Messages.Add(ReadMessage(message, $"messages[{index++}]"));
            }
        }
        if (request.Messages.Count == 0 && !withPrompt)
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
            request.ToolChoice = ReadToolChoice(toolChoice);
        }
        if (Bool(root, "parallel_tool_calls", "parallel_tool_calls") is { } parallel)
        {
            request.ParallelToolCalls = parallel;
        }
        if (TryGet(root, "response_format", out var format))
        {
            request.ResponseFormat = ReadResponseFormat(format);
        }
        if (Number(root, "temperature", "temperature", 0, 2) is { } temperature)
        {
            request.Temperature = temperature;
        }
        if (Number(root, "top_p", "top_p", 0, 1) is { } topP)
        {
            request.TopP = topP;
        }
        var maxTokens = Int(root, "max_completion_tokens", "max_completion_tokens", 1) ?? Int(root, "max_tokens", "max_tokens", 1);
        if (maxTokens is { } max)
        {
            request.MaxTokens = max;
        }
        if (TryGet(root, "stop", out var stop))
        {
            ReadStop(stop, request);
        }
        if (Number(root, "presence_penalty", "presence_penalty", -2, 2) is { } presence)
        {
            request.PresencePenalty = presence;
        }
        if (Number(root, "frequency_penalty", "frequency_penalty", -2, 2) is { } frequency)
        {
            request.FrequencyPenalty = frequency;
        }
        if (Long(root, "seed", "seed") is { } seed)
        {
            request.Seed = seed;
        }
        if (Int(root, "n", "n", 1, 128) is { } n)
        {
            request.N = n;
        }
        request.User = String(root, "user", "user") ?? "";
        if (TryGet(root, "metadata", out var metadata))
        {
            ReadMetadata(metadata, request);
        }
        if (String(root, "reasoning_effort", "reasoning_effort") is { } effort)
        {
            request.Reasoning = new Reasoning { Effort = effort };
        }
        stream = Bool(root, "stream", "stream") ?? false;
        if (TryGet(root, "stream_options", out var streamOptions))
        {
            RequireObject(streamOptions, "stream_options");
            request.IncludeUsage = Bool(streamOptions, "include_usage", "stream_options.include_usage") ?? false;
        }
        if (TryGet(root, "prompt", out var prompt))
        {
            request.Prompt = ReadPromptReference(prompt);
        }
        return request;
    }

    private static Message ReadMessage(JsonElement element, string path)
    {
        RequireObject(element, path);
        var roleText = RequireString(element, "role", $"{path}.role");
        var role = roleText switch
        {
            "system" => Role.System,
            "developer" => Role.Developer,
            "user" => Role.User,
            "assistant" => Role.Assistant,
            "tool" => Role.Tool,
            _ => throw GatewayException.BadRequest($"Invalid value for '{path}.role': '{roleText}'. Supported values are: 'system', 'developer', 'user', 'assistant' and 'tool'.", $"{path}.role", "invalid_value"),
        };
        var message = new Message { Role = role, Name = String(element, "name", $"{path}.name") ?? "" };
        if (TryGet(element, "content", out var content))
        {
            ReadContent(content, message, $"{path}.content");
        }
        else if (role != Role.Assistant)
        {
            throw GatewayException.BadRequest($"Missing required parameter: '{path}.content'.", $"{path}.content", "missing_required_parameter");
        }
        if (role == Role.Assistant)
        {
            message.Refusal = String(element, "refusal", $"{path}.refusal") ?? "";
            if (TryGet(element, "tool_calls", out var calls))
            {
                var index = 0;
                foreach (var call in Array(calls, $"{path}.tool_calls"))
                {
                    var callPath = $"{path}.tool_calls[{index++}]";
                    RequireObject(call, callPath);
                    var function = RequireObject(TryGet(call, "function", out var f) ? f : throw GatewayException.BadRequest($"Missing required parameter: '{callPath}.function'.", $"{callPath}.function", "missing_required_parameter"), $"{callPath}.function");
                    message.ToolCalls.Add(new ToolCall
                    {
                        Id = RequireString(call, "id", $"{callPath}.id"),
                        Name = RequireString(function, "name", $"{callPath}.function.name"),
                        Arguments = RequireString(function, "arguments", $"{callPath}.function.arguments"),
                    });
                }
            }
        }
        if (role == Role.Tool)
        {
            message.ToolCallId = RequireString(element, "tool_call_id", $"{path}.tool_call_id");
        }
        return message;
    }

    private static void ReadContent(JsonElement content, Message message, string path)
    {
        if (content.ValueKind == JsonValueKind.String)
        {
            message.Content.Add(new ContentPart { Text = content.GetString()! });
            return;
        }
        var index = 0;
        foreach (var part in Array(content, path))
        {
            var partPath = $"{path}[{index++}]";
            RequireObject(part, partPath);
            var type = RequireString(part, "type", $"{partPath}.type");
            switch (type)
            {
                case "text":
                    message.Content.Add(new ContentPart { Text = RequireString(part, "text", $"{partPath}.text") });
                    break;
                case "refusal" when message.Role == Role.Assistant:
                    message.Refusal += RequireString(part, "refusal", $"{partPath}.refusal");
                    break;
                case "image_url" when message.Role == Role.User:
                    var image = RequireObject(TryGet(part, "image_url", out var i) ? i : throw GatewayException.BadRequest($"Missing required parameter: '{partPath}.image_url'.", $"{partPath}.image_url", "missing_required_parameter"), $"{partPath}.image_url");
                    var detail = String(image, "detail", $"{partPath}.image_url.detail") ?? "";
                    var url = RequireString(image, "url", $"{partPath}.image_url.url");
                    message.Content.Add(new ContentPart { Image = ReadImage(url, detail, $"{partPath}.image_url.url", $"{partPath}.image_url.detail") });
                    break;
                default:
                    throw GatewayException.BadRequest($"Invalid value for '{partPath}.type': '{type}' is not supported in a {RoleName(message.Role)} message.", $"{partPath}.type", "invalid_value");
            }
        }
    }

    private static Tool ReadTool(JsonElement element, string path)
    {
        RequireObject(element, path);
        var type = RequireString(element, "type", $"{path}.type");
        if (type != "function")
        {
            throw GatewayException.BadRequest($"Invalid value for '{path}.type': only 'function' tools are supported.", $"{path}.type", "invalid_value");
        }
        var function = RequireObject(TryGet(element, "function", out var f) ? f : throw GatewayException.BadRequest($"Missing required parameter: '{path}.function'.", $"{path}.function", "missing_required_parameter"), $"{path}.function");
        return ReadFunction(function, $"{path}.function");
    }

    // A function's name, description, parameters and strict flag: the `function` object of a Chat
    // Completions tool, or a Responses API tool itself (there the fields are not nested).
    public static Tool ReadFunction(JsonElement function, string path)
    {
        var name = RequireString(function, "name", $"{path}.name");
        if (!IsValidToolName(name))
        {
            throw GatewayException.BadRequest($"Invalid '{path}.name': use 1 to 64 letters, digits, '_' or '-'.", $"{path}.name", "invalid_value");
        }
        var tool = new Tool { Name = name, Description = String(function, "description", $"{path}.description") ?? "" };
        if (TryGet(function, "parameters", out var parameters))
        {
            tool.ParametersJson = RequireObject(parameters, $"{path}.parameters").GetRawText();
        }
        if (Bool(function, "strict", $"{path}.strict") is { } strict)
        {
            tool.Strict = strict;
        }
        return tool;
    }

    public static bool IsValidToolName(string name)
        => name.Length is > 0 and <= MaxToolNameLength && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');

    private static ToolChoice ReadToolChoice(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.String)
        {
            return element.GetString() switch
            {
                "auto" => new ToolChoice { Mode = ToolChoice.Types.Mode.Auto },
                "none" => new ToolChoice { Mode = ToolChoice.Types.Mode.None },
                "required" => new ToolChoice { Mode = ToolChoice.Types.Mode.Required },
                var other => throw GatewayException.BadRequest($"Invalid value for 'tool_choice': '{other}'. Use 'none', 'auto', 'required' or a function object.", "tool_choice", "invalid_value"),
            };
        }
        RequireObject(element, "tool_choice");
        var function = RequireObject(TryGet(element, "function", out var f) ? f : throw GatewayException.BadRequest("Missing required parameter: 'tool_choice.function'.", "tool_choice.function", "missing_required_parameter"), "tool_choice.function");
        return new ToolChoice { Mode = ToolChoice.Types.Mode.Function, FunctionName = RequireString(function, "name", "tool_choice.function.name") };
    }

    private static ResponseFormat ReadResponseFormat(JsonElement element)
    {
        RequireObject(element, "response_format");
        var type = RequireString(element, "type", "response_format.type");
        switch (type)
        {
            case "text":
                return new ResponseFormat { Type = ResponseFormat.Types.Type.Text };
            case "json_object":
                return new ResponseFormat { Type = ResponseFormat.Types.Type.JsonObject };
            case "json_schema":
                var schema = RequireObject(TryGet(element, "json_schema", out var s) ? s : throw GatewayException.BadRequest("Missing required parameter: 'response_format.json_schema'.", "response_format.json_schema", "missing_required_parameter"), "response_format.json_schema");
                return ReadJsonSchema(schema, "response_format.json_schema", schemaRequired: false);
            default:
                throw GatewayException.BadRequest($"Invalid value for 'response_format.type': '{type}'. Use 'text', 'json_object' or 'json_schema'.", "response_format.type", "invalid_value");
        }
    }

    // A JSON schema format's name, description, schema and strict flag: `response_format.json_schema` of
    // Chat Completions, or `text.format` of the Responses API (which requires the schema).
    public static ResponseFormat ReadJsonSchema(JsonElement schema, string path, bool schemaRequired)
    {
        var format = new ResponseFormat
        {
            Type = ResponseFormat.Types.Type.JsonSchema,
            SchemaName = RequireString(schema, "name", $"{path}.name"),
            Description = String(schema, "description", $"{path}.description") ?? "",
        };
        if (TryGet(schema, "schema", out var body))
        {
            format.SchemaJson = RequireObject(body, $"{path}.schema").GetRawText();
        }
        else if (schemaRequired)
        {
            throw GatewayException.BadRequest($"Missing required parameter: '{path}.schema'.", $"{path}.schema", "missing_required_parameter");
        }
        if (Bool(schema, "strict", $"{path}.strict") is { } strict)
        {
            format.Strict = strict;
        }
        return format;
    }

    // An image as an http(s) URL or a data: URI, with an optional detail level.
    public static ImagePart ReadImage(string url, string detail, string urlPath, string detailPath)
    {
        if (detail is not ("" or "auto" or "low" or "high"))
        {
            throw GatewayException.BadRequest($"Invalid value for '{detailPath}': use 'auto', 'low' or 'high'.", detailPath, "invalid_value");
        }
        if (!url.StartsWith("data:", StringComparison.Ordinal) && !url.StartsWith("https://", StringComparison.Ordinal) && !url.StartsWith("http://", StringComparison.Ordinal))
        {
            throw GatewayException.BadRequest($"Invalid '{urlPath}': use an http(s) URL or a data: URI.", urlPath, "invalid_value");
        }
        return new ImagePart { Url = url, Detail = detail };
    }

    // `metadata`: string values only.
    public static void ReadMetadata(JsonElement metadata, ChatRequest request)
    {
        foreach (var property in RequireObject(metadata, "metadata").EnumerateObject())
        {
            if (property.Value.ValueKind != JsonValueKind.String)
            {
                throw WrongType($"metadata.{property.Name}", "a string", property.Value);
            }
            request.Metadata[property.Name] = property.Value.GetString()!;
        }
    }

    private static void ReadStop(JsonElement stop, ChatRequest request)
    {
        if (stop.ValueKind == JsonValueKind.String)
        {
            request.Stop.Add(stop.GetString()!);
            return;
        }
        var index = 0;
        foreach (var item in Array(stop, "stop"))
        {
            request.Stop.Add(item.ValueKind == JsonValueKind.String ? item.GetString()! : throw WrongType($"stop[{index}]", "a string", item));
            index++;
        }
        if (request.Stop.Count > 4)
        {
            throw GatewayException.BadRequest("'stop' accepts at most 4 sequences.", "stop", "invalid_value");
        }
    }

    public static PromptReference ReadPromptReference(JsonElement element)
    {
        RequireObject(element, "prompt");
        var reference = new PromptReference { Id = RequireString(element, "id", "prompt.id"), Label = String(element, "label", "prompt.label") ?? "" };
        if (TryGet(element, "version", out var version))
        {
            reference.Version = version.ValueKind switch
            {
                JsonValueKind.Number when version.TryGetInt32(out var v) && v > 0 => v,
                JsonValueKind.String when int.TryParse(version.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0 => v,
                _ => throw GatewayException.BadRequest("Invalid 'prompt.version': use a positive integer.", "prompt.version", "invalid_value"),
            };
        }
        if (TryGet(element, "variables", out var variables))
        {
            reference.VariablesJson = RequireObject(variables, "prompt.variables").GetRawText();
        }
        return reference;
    }

    public static void WriteRequest(Utf8JsonWriter w, ChatRequest request, string model, bool stream)
    {
        w.WriteStartObject();
        w.WriteString("model", model);
        w.WriteStartArray("messages");
        foreach (var message in request.Messages)
        {
            WriteMessage(w, message);
        }
        w.WriteEndArray();
        if (request.Tools.Count > 0)
        {
            w.WriteStartArray("tools");
            foreach (var tool in request.Tools)
            {
                w.WriteStartObject();
                w.WriteString("type", "function");
                WriteSchemaObject(w, "function", tool.Name, tool.Description, "parameters", tool.ParametersJson, tool.HasStrict ? tool.Strict : null);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        if (request.ToolChoice is { } choice && choice.Mode != ToolChoice.Types.Mode.Unspecified)
        {
            WriteToolChoice(w, choice);
        }
        if (request.HasParallelToolCalls && request.Tools.Count > 0)
        {
            w.WriteBoolean("parallel_tool_calls", request.ParallelToolCalls);
        }
        if (request.ResponseFormat is { } format && format.Type != ResponseFormat.Types.Type.Unspecified)
        {
            WriteResponseFormat(w, format);
        }
        if (request.HasTemperature)
        {
            w.WriteNumber("temperature", request.Temperature);
        }
        if (request.HasTopP)
        {
            w.WriteNumber("top_p", request.TopP);
        }
        if (request.HasMaxTokens)
        {
            w.WriteNumber("max_completion_tokens", request.MaxTokens);
        }
        if (request.Stop.Count > 0)
        {
            w.WriteStartArray("stop");
            foreach (var s in request.Stop)
            {
                w.WriteStringValue(s);
            }
            w.WriteEndArray();
        }
        if (request.HasPresencePenalty)
        {
            w.WriteNumber("presence_penalty", request.PresencePenalty);
        }
        if (request.HasFrequencyPenalty)
        {
            w.WriteNumber("frequency_penalty", request.FrequencyPenalty);
        }
        if (request.HasSeed)
        {
            w.WriteNumber("seed", request.Seed);
        }
        if (request.HasN)
        {
            w.WriteNumber("n", request.N);
        }
        if (request.User.Length > 0)
        {
            w.WriteString("user", request.User);
        }
        if (request.Reasoning is { Effort.Length: > 0 } reasoning)
        {
            w.WriteString("reasoning_effort", reasoning.Effort);
        }
        if (stream)
        {
            w.WriteBoolean("stream", true);
            // Always ask for usage: budgets settle on it even when the client did not ask.
            w.WriteStartObject("stream_options");
            w.WriteBoolean("include_usage", true);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    private static void WriteMessage(Utf8JsonWriter w, Message message)
    {
        w.WriteStartObject();
        w.WriteString("role", RoleName(message.Role));
        if (message.Name.Length > 0)
        {
            w.WriteString("name", message.Name);
        }
        WriteContent(w, message);
        if (message.Refusal.Length > 0)
        {
            w.WriteString("refusal", message.Refusal);
        }
        WriteToolCalls(w, message.ToolCalls);
        if (message.Role == Role.Tool)
        {
            w.WriteString("tool_call_id", message.ToolCallId);
        }
        w.WriteEndObject();
    }

    private static void WriteContent(Utf8JsonWriter w, Message message)
    {
        if (message.Content.Count == 0)
        {
            w.WriteNull("content");
            return;
        }
        if (message.Content.All(p => p.PartCase == ContentPart.PartOneofCase.Text))
        {
            if (message.Content.Count == 1)
            {
                w.WriteString("content", message.Content[0].Text);
                return;
            }
        }
        w.WriteStartArray("content");
        foreach (var part in message.Content)
        {
            w.WriteStartObject();
            if (part.PartCase == ContentPart.PartOneofCase.Image)
            {
                w.WriteString("type", "image_url");
                w.WriteStartObject("image_url");
                w.WriteString("url", part.Image.Url);
                if (part.Image.Detail.Length > 0)
                {
                    w.WriteString("detail", part.Image.Detail);
                }
                w.WriteEndObject();
            }
            else
            {
                w.WriteString("type", "text");
                w.WriteString("text", part.Text);
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void WriteToolChoice(Utf8JsonWriter w, ToolChoice choice)
    {
        switch (choice.Mode)
        {
            case ToolChoice.Types.Mode.Function:
                w.WriteStartObject("tool_choice");
                w.WriteString("type", "function");
                w.WriteStartObject("function");
                w.WriteString("name", choice.FunctionName);
                w.WriteEndObject();
                w.WriteEndObject();
                break;
            default:
                w.WriteString("tool_choice", choice.Mode switch
                {
                    ToolChoice.Types.Mode.None => "none",
                    ToolChoice.Types.Mode.Required => "required",
                    _ => "auto",
                });
                break;
        }
    }

    private static void WriteResponseFormat(Utf8JsonWriter w, ResponseFormat format)
    {
        w.WriteStartObject("response_format");
        switch (format.Type)
        {
            case ResponseFormat.Types.Type.JsonObject:
                w.WriteString("type", "json_object");
                break;
            case ResponseFormat.Types.Type.JsonSchema:
                w.WriteString("type", "json_schema");
                WriteSchemaObject(w, "json_schema", format.SchemaName, format.Description, "schema", format.SchemaJson, format.HasStrict ? format.Strict : null);
                break;
            default:
                w.WriteString("type", "text");
                break;
        }
        w.WriteEndObject();
    }

    // ---- responses ----------------------------------------------------------------------------------

    public static ChatResponse ReadResponse(JsonElement root)
    {
        var response = new ChatResponse
        {
            Id = OptString(root, "id") ?? "",
            Model = OptString(root, "model") ?? "",
            Created = OptLong(root, "created"),
            SystemFingerprint = OptString(root, "system_fingerprint") ?? "",
            Usage = ReadUsage(OptObject(root, "usage")),
        };
        foreach (var choice in OptArray(root, "choices"))
        {
            var message = OptObject(choice, "message");
            var neutral = new Message { Role = Role.Assistant, Refusal = OptString(message, "refusal") ?? "" };
            if (OptString(message, "content") is { } text)
            {
                neutral.Content.Add(new ContentPart { Text = text });
            }
            if (OptString(message, "reasoning_content") is { Length: > 0 } reasoning)
            {
                neutral.Reasoning.Add(new ReasoningBlock { Text = reasoning });
            }
            foreach (var call in OptArray(message, "tool_calls"))
            {
                var function = OptObject(call, "function");
                neutral.ToolCalls.Add(new ToolCall { Id = OptString(call, "id") ?? "", Name = OptString(function, "name") ?? "", Arguments = OptString(function, "arguments") ?? "" });
            }
            response.Choices.Add(new Choice { Index = OptInt(choice, "index"), Message = neutral, FinishReason = ParseFinishReason(OptString(choice, "finish_reason")) });
        }
        return response;
    }

    public static Usage ReadUsage(JsonElement usage)
    {
        if (usage.ValueKind != JsonValueKind.Object)
        {
            return new Usage();
        }
        return new Usage
        {
            InputTokens = OptInt(usage, "prompt_tokens"),
            OutputTokens = OptInt(usage, "completion_tokens"),
            CachedInputTokens = OptInt(OptObject(usage, "prompt_tokens_details"), "cached_tokens"),
            ReasoningTokens = OptInt(OptObject(usage, "completion_tokens_details"), "reasoning_tokens"),
        };
    }

    public static void WriteResponse(Utf8JsonWriter w, ChatResponse response)
    {
        w.WriteStartObject();
        w.WriteString("id", response.Id);
        w.WriteString("object", "chat.completion");
        w.WriteNumber("created", response.Created);
        w.WriteString("model", response.Model);
        w.WriteStartArray("choices");
        foreach (var choice in response.Choices)
        {
            w.WriteStartObject();
            w.WriteNumber("index", choice.Index);
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            var text = TextOf(choice.Message);
            if (text is null)
            {
                w.WriteNull("content");
            }
            else
            {
                w.WriteString("content", text);
            }
            if (choice.Message.Refusal.Length > 0)
            {
                w.WriteString("refusal", choice.Message.Refusal);
            }
            else
            {
                w.WriteNull("refusal");
            }
            WriteToolCalls(w, choice.Message.ToolCalls);
            w.WriteEndObject();
            w.WriteNull("logprobs");
            WriteFinishReason(w, choice.FinishReason);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        WriteUsage(w, response.Usage);
        if (response.SystemFingerprint.Length > 0)
        {
            w.WriteString("system_fingerprint", response.SystemFingerprint);
        }
        w.WriteEndObject();
    }

    // Text parts joined; null when the message has none (tool-call-only answers).
    public static string? TextOf(Message message)
    {
        string? text = null;
        foreach (var part in message.Content)
        {
            if (part.PartCase == ContentPart.PartOneofCase.Text)
            {
                text = text is null ? part.Text : text + part.Text;
            }
        }
        return text;
    }

    public static void WriteUsage(Utf8JsonWriter w, Usage? usage)
    {
        if (usage is null)
        {
            return;
        }
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", usage.InputTokens);
        w.WriteNumber("completion_tokens", usage.OutputTokens);
        w.WriteNumber("total_tokens", usage.InputTokens + usage.OutputTokens);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", usage.CachedInputTokens);
        w.WriteEndObject();
        w.WriteStartObject("completion_tokens_details");
        w.WriteNumber("reasoning_tokens", usage.ReasoningTokens);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    // ---- stream chunks ------------------------------------------------------------------------------

    public static ChatChunk ReadChunk(JsonElement root)
    {
        var chunk = new ChatChunk
        {
            Id = OptString(root, "id") ?? "",
            Model = OptString(root, "model") ?? "",
            Created = OptLong(root, "created"),
        };
        if (OptObject(root, "usage") is { ValueKind: JsonValueKind.Object } usage)
        {
            chunk.Usage = ReadUsage(usage);
        }
        foreach (var choice in OptArray(root, "choices"))
        {
            var delta = OptObject(choice, "delta");
            var neutral = new Delta();
            if (OptString(delta, "role") == "assistant")
            {
                neutral.Role = Role.Assistant;
            }
            if (OptString(delta, "content") is { } content)
            {
                neutral.Content = content;
            }
            if (OptString(delta, "reasoning_content") is { } reasoning)
            {
                neutral.Reasoning = reasoning;
            }
            if (OptString(delta, "refusal") is { } refusal)
            {
                neutral.Refusal = refusal;
            }
            foreach (var call in OptArray(delta, "tool_calls"))
            {
                var function = OptObject(call, "function");
                neutral.ToolCalls.Add(new ToolCallDelta
                {
                    Index = OptInt(call, "index"),
                    Id = OptString(call, "id") ?? "",
                    Name = OptString(function, "name") ?? "",
                    Arguments = OptString(function, "arguments") ?? "",
                });
            }
            chunk.Choices.Add(new ChunkChoice { Index = OptInt(choice, "index"), Delta = neutral, FinishReason = ParseFinishReason(OptString(choice, "finish_reason")) });
        }
        return chunk;
    }

    public static void WriteChunk(Utf8JsonWriter w, ChatChunk chunk, bool includeUsage)
    {
        w.WriteStartObject();
        w.WriteString("id", chunk.Id);
        w.WriteString("object", "chat.completion.chunk");
        w.WriteNumber("created", chunk.Created);
        w.WriteString("model", chunk.Model);
        w.WriteStartArray("choices");
        foreach (var choice in chunk.Choices)
        {
            w.WriteStartObject();
            w.WriteNumber("index", choice.Index);
            w.WriteStartObject("delta");
            var delta = choice.Delta ?? new Delta();
            if (delta.Role == Role.Assistant)
            {
                w.WriteString("role", "assistant");
            }
            if (delta.HasContent)
            {
                w.WriteString("content", delta.Content);
            }
            if (delta.HasRefusal)
            {
                w.WriteString("refusal", delta.Refusal);
            }
            if (delta.ToolCalls.Count > 0)
            {
                w.WriteStartArray("tool_calls");
                foreach (var call in delta.ToolCalls)
                {
                    w.WriteStartObject();
                    w.WriteNumber("index", call.Index);
                    if (call.Id.Length > 0)
                    {
                        w.WriteString("id", call.Id);
                        w.WriteString("type", "function");
                    }
                    w.WriteStartObject("function");
                    if (call.Name.Length > 0)
                    {
                        w.WriteString("name", call.Name);
                    }
                    w.WriteString("arguments", call.Arguments);
                    w.WriteEndObject();
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
            w.WriteNull("logprobs");
            WriteFinishReason(w, choice.FinishReason);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        if (includeUsage)
        {
            if (chunk.Usage is null)
            {
                w.WriteNull("usage");
            }
            else
            {
                WriteUsage(w, chunk.Usage);
            }
        }
        w.WriteEndObject();
    }

    // ---- shared -------------------------------------------------------------------------------------

    private static void WriteToolCalls(Utf8JsonWriter w, IReadOnlyCollection<ToolCall> calls)
    {
        if (calls.Count == 0)
        {
            return;
        }
        w.WriteStartArray("tool_calls");
        foreach (var call in calls)
        {
            w.WriteStartObject();
            w.WriteString("id", call.Id);
            w.WriteString("type", "function");
            w.WriteStartObject("function");
            w.WriteString("name", call.Name);
            w.WriteString("arguments", call.Arguments);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    // A function's parameters and a response format's json_schema share one shape: name, description,
    // a raw JSON Schema, and strict.
    private static void WriteSchemaObject(Utf8JsonWriter w, string property, string name, string description, string schemaProperty, string schemaJson, bool? strict)
    {
        w.WriteStartObject(property);
        w.WriteString("name", name);
        if (description.Length > 0)
        {
            w.WriteString("description", description);
        }
        if (schemaJson.Length > 0)
        {
            w.WritePropertyName(schemaProperty);
            w.WriteRawValue(schemaJson, skipInputValidation: true);
        }
        if (strict is { } value)
        {
            w.WriteBoolean("strict", value);
        }
        w.WriteEndObject();
    }

    public static FinishReason ParseFinishReason(string? value) => value switch
    {
        "stop" => FinishReason.Stop,
        "length" => FinishReason.Length,
        "tool_calls" or "function_call" => FinishReason.ToolCalls,
        "content_filter" => FinishReason.ContentFilter,
        _ => FinishReason.Unspecified,
    };

    private static void WriteFinishReason(Utf8JsonWriter w, FinishReason reason)
    {
        switch (reason)
        {
            case FinishReason.Stop: w.WriteString("finish_reason", "stop"); break;
            case FinishReason.Length: w.WriteString("finish_reason", "length"); break;
            case FinishReason.ToolCalls: w.WriteString("finish_reason", "tool_calls"); break;
            case FinishReason.ContentFilter: w.WriteString("finish_reason", "content_filter"); break;
            default: w.WriteNull("finish_reason"); break;
        }
    }

    public static string RoleName(Role role) => role switch
    {
        Role.System => "system",
        Role.Developer => "developer",
        Role.Assistant => "assistant",
        Role.Tool => "tool",
        _ => "user",
    };
}
