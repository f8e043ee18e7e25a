using System.Buffers;
using System.Text;
using System.Text.Json;
using Gateway.Common.Errors;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;
using static Gateway.Router.Providers.JsonRead;

namespace Gateway.Router.Providers.Gemini;

// The Gemini API (generativelanguage v1beta) wire format <-> the neutral Inference contract. Only the provider
// side exists: neutral requests are written as generateContent bodies, Gemini answers are read back leniently.
public static class GeminiCodec
{
    // Budgets Google's own OpenAI-compatible endpoint uses for reasoning_effort.
    private static readonly Dictionary<string, int> EffortBudgets = new(StringComparer.Ordinal)
    {
        ["low"] = 1024,
        ["medium"] = 8192,
        ["high"] = 24576,
    };

    // ---- requests -----------------------------------------------------------------------------------

    public static void WriteRequest(Utf8JsonWriter w, ChatRequest request)
    {
        w.WriteStartObject();
        WriteContents(w, request.Messages);
        WriteSystemInstruction(w, request.Messages);
        WriteTools(w, request);
        WriteGenerationConfig(w, request);
        w.WriteEndObject();
    }

    private static void WriteContents(Utf8JsonWriter w, IList<Message> messages)
    {
        w.WriteStartArray("contents");
        var inToolTurn = false;
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            if (message.Role is Role.System or Role.Developer)
            {
                continue;
            }
            if (message.Role == Role.Tool)
            {
                // Gemini expects all answers to one round of calls in a single user turn.
                if (!inToolTurn)
                {
                    w.WriteStartObject();
                    w.WriteString("role", "user");
                    w.WriteStartArray("parts");
                    inToolTurn = true;
                }
                WriteFunctionResponse(w, messages, i);
                continue;
            }
            CloseToolTurn(w, ref inToolTurn);
            var parts = message.Role == Role.Assistant ? ModelParts(message, i) : UserParts(message, i);
            if (parts.Count == 0)
            {
                // Gemini rejects turns without parts (and empty text parts): an empty message says nothing.
                continue;
            }
            w.WriteStartObject();
            w.WriteString("role", message.Role == Role.Assistant ? "model" : "user");
            w.WriteStartArray("parts");
            foreach (var part in parts)
            {
                part(w);
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        CloseToolTurn(w, ref inToolTurn);
        w.WriteEndArray();
    }

    private static void CloseToolTurn(Utf8JsonWriter w, ref bool inToolTurn)
    {
        if (inToolTurn)
        {
            w.WriteEndArray();
            w.WriteEndObject();
            inToolTurn = false;
        }
    }

    private static List<Action<Utf8JsonWriter>> UserParts(Message message, int index)
    {
        var parts = new List<Action<Utf8JsonWriter>>();
        for (var p = 0; p < message.Content.Count; p++)
        {
            var part = message.Content[p];
            if (part.PartCase == ContentPart.PartOneofCase.Image)
            {
                var path = $"messages[{index}].content[{p}].image_url.url";
                var url = part.Image.Url;
                parts.Add(url.StartsWith("data:", StringComparison.Ordinal) ? InlineData(url, path) : FileData(url));
            }
            else if (part.Text.Length > 0)
            {
                var text = part.Text;
                parts.Add(w => TextPart(w, text));
            }
        }
        return parts;
    }

    private static List<Action<Utf8JsonWriter>> ModelParts(Message message, int index)
    {
        var parts = new List<Action<Utf8JsonWriter>>();
        // Gemini's thought signature goes back on the part it came with: the first call, else the first text.
        var signature = GeminiSignature(message);
        foreach (var part in message.Content)
        {
            if (part.PartCase == ContentPart.PartOneofCase.Text && part.Text.Length > 0)
            {
                var text = part.Text;
                var partSignature = message.ToolCalls.Count == 0 ? Take(ref signature) : null;
                parts.Add(w => TextPart(w, text, partSignature));
            }
        }
        for (var c = 0; c < message.ToolCalls.Count; c++)
        {
            var call = message.ToolCalls[c];
            var args = ParseArguments(call.Arguments, $"messages[{index}].tool_calls[{c}].function.arguments");
            var partSignature = Take(ref signature);
            parts.Add(w =>
            {
                w.WriteStartObject();
                w.WriteStartObject("functionCall");
                w.WriteString("name", call.Name);
                w.WritePropertyName("args");
                w.WriteRawValue(args, skipInputValidation: true);
                w.WriteEndObject();
                if (partSignature is not null)
                {
                    w.WriteString("thoughtSignature", partSignature);
                }
                w.WriteEndObject();
            });
        }
        return parts;
    }

    private static string? Take(ref string? value)
    {
        var taken = value;
        value = null;
        return taken;
    }

    // Gemini signatures are read into signature-only blocks (no text, no redacted data). Anthropic thinking
    // blocks always carry one or the other, and their signatures would be rejected by Gemini, so they stay.
    private static string? GeminiSignature(Message message)
        => message.Reasoning.FirstOrDefault(r => r.Text.Length == 0 && r.RedactedData.Length == 0 && r.Signature.Length > 0)?.Signature;

    private static void TextPart(Utf8JsonWriter w, string text, string? signature = null)
    {
        w.WriteStartObject();
        w.WriteString("text", text);
        if (signature is not null)
        {
            w.WriteString("thoughtSignature", signature);
        }
        w.WriteEndObject();
    }

    private static Action<Utf8JsonWriter> InlineData(string url, string path)
    {
        // data:[<mime>][;base64],<payload>
        var comma = url.IndexOf(',', StringComparison.Ordinal);
        if (comma < 0)
        {
            throw GatewayException.BadRequest($"Invalid '{path}': the data: URI has no ',' before its payload.", path, "invalid_value");
        }
        var header = url[5..comma];
        var payload = url[(comma + 1)..];
        var isBase64 = header.EndsWith(";base64", StringComparison.OrdinalIgnoreCase);
        var mimeType = (isBase64 ? header[..^7] : header).Split(';')[0];
        var data = isBase64 ? payload : Convert.ToBase64String(Encoding.UTF8.GetBytes(Uri.UnescapeDataString(payload)));
        if (mimeType.Length == 0)
        {
            mimeType = "text/plain";
        }
        return w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("inlineData");
            w.WriteString("mimeType", mimeType);
            w.WriteString("data", data);
            w.WriteEndObject();
            w.WriteEndObject();
        };
    }

    private static Action<Utf8JsonWriter> FileData(string url)
    {
        var mimeType = GuessImageMimeType(url);
        return w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("fileData");
            if (mimeType is not null)
            {
                w.WriteString("mimeType", mimeType);
            }
            w.WriteString("fileUri", url);
            w.WriteEndObject();
            w.WriteEndObject();
        };
    }

    private static string? GuessImageMimeType(string url)
    {
        var path = Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.AbsolutePath : url;
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".png" => "image/png",
            ".jpg" or ".jpeg" => "image/jpeg",
            ".webp" => "image/webp",
            ".gif" => "image/gif",
            ".heic" => "image/heic",
            ".heif" => "image/heif",
            _ => null,
        };
    }

    // Tool call arguments travel as JSON text; Gemini wants the object itself.
    private static string ParseArguments(string arguments, string path)
    {
        if (string.IsNullOrWhiteSpace(arguments))
        {
            return "{}";
        }
        try
        {
            using var document = JsonDocument.Parse(arguments);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw GatewayException.BadRequest($"Invalid '{path}': the arguments must be a JSON object.", path, "invalid_value");
            }
            return Compact(document.RootElement);
        }
        catch (JsonException)
        {
            throw GatewayException.BadRequest($"Invalid '{path}': the arguments are not valid JSON.", path, "invalid_value");
        }
    }

    private static void WriteFunctionResponse(Utf8JsonWriter w, IList<Message> messages, int index)
    {
        var message = messages[index];
        var name = FunctionNameFor(messages, index)
            ?? (message.Name.Length > 0 ? message.Name : null)
            ?? throw GatewayException.BadRequest($"Invalid 'messages[{index}].tool_call_id': no earlier assistant message made the call '{message.ToolCallId}'.", $"messages[{index}].tool_call_id", "invalid_value");
        var text = string.Concat(message.Content.Where(p => p.PartCase == ContentPart.PartOneofCase.Text).Select(p => p.Text));
        w.WriteStartObject();
        w.WriteStartObject("functionResponse");
        w.WriteString("name", name);
        w.WritePropertyName("response");
        WriteFunctionResult(w, text, message.IsError);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    // Gemini has no call ids to pair results with calls, only names: take the name from the latest earlier
    // assistant call with this id (ids may repeat across turns when Gemini did not supply one).
    private static string? FunctionNameFor(IList<Message> messages, int index)
    {
        var id = messages[index].ToolCallId;
        for (var i = index - 1; i >= 0; i--)
        {
            if (messages[i].Role == Role.Assistant && messages[i].ToolCalls.FirstOrDefault(c => c.Id == id) is { } call)
            {
                return call.Name;
            }
        }
        return null;
    }

    // `response` must be an object: an object result passes through, anything else is wrapped, as
    // {"error": ...} when the tool reported a failure, else {"result": ...}.
    private static void WriteFunctionResult(Utf8JsonWriter w, string text, bool isError)
    {
        JsonDocument? document = null;
        try
        {
            document = JsonDocument.Parse(text);
        }
        catch (JsonException)
        {
            // Plain text: wrapped as a string below.
        }
        using (document)
        {
            if (document?.RootElement.ValueKind == JsonValueKind.Object)
            {
                document.RootElement.WriteTo(w);
                return;
            }
            w.WriteStartObject();
            w.WritePropertyName(isError ? "error" : "result");
            if (document is null)
            {
                w.WriteStringValue(text);
            }
            else
            {
                document.RootElement.WriteTo(w);
            }
            w.WriteEndObject();
        }
    }

    private static void WriteSystemInstruction(Utf8JsonWriter w, IList<Message> messages)
    {
        var texts = messages
            .Where(m => m.Role is Role.System or Role.Developer)
            .SelectMany(m => m.Content)
            .Where(p => p.PartCase == ContentPart.PartOneofCase.Text && p.Text.Length > 0)
            .Select(p => p.Text)
            .ToList();
        if (texts.Count == 0)
        {
            return;
        }
        w.WriteStartObject("systemInstruction");
        w.WriteStartArray("parts");
        foreach (var text in texts)
        {
            TextPart(w, text);
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteTools(Utf8JsonWriter w, ChatRequest request)
    {
        if (request.Tools.Count > 0)
        {
            w.WriteStartArray("tools");
            w.WriteStartObject();
            w.WriteStartArray("functionDeclarations");
            foreach (var tool in request.Tools)
            {
                w.WriteStartObject();
                w.WriteString("name", tool.Name);
                if (tool.Description.Length > 0)
                {
                    w.WriteString("description", tool.Description);
                }
                if (tool.ParametersJson.Length > 0)
                {
                    // parametersJsonSchema takes JSON Schema as is (the older `parameters` takes an OpenAPI subset).
                    w.WritePropertyName("parametersJsonSchema");
                    w.WriteRawValue(tool.ParametersJson, skipInputValidation: true);
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndArray();
        }
        if (request.ToolChoice is { } choice && choice.Mode != ToolChoice.Types.Mode.Unspecified)
        {
            w.WriteStartObject("toolConfig");
            w.WriteStartObject("functionCallingConfig");
            w.WriteString("mode", choice.Mode switch
            {
                ToolChoice.Types.Mode.None => "NONE",
                ToolChoice.Types.Mode.Required or ToolChoice.Types.Mode.Function => "ANY",
                _ => "AUTO",
            });
            if (choice.Mode == ToolChoice.Types.Mode.Function)
            {
                w.WriteStartArray("allowedFunctionNames");
                w.WriteStringValue(choice.FunctionName);
                w.WriteEndArray();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
    }

    private static void WriteGenerationConfig(Utf8JsonWriter w, ChatRequest request)
    {
        var format = request.ResponseFormat?.Type ?? ResponseFormat.Types.Type.Unspecified;
        var thinkingBudget = request.Reasoning switch
        {
            { BudgetTokens: > 0 } r => r.BudgetTokens,
            { Effort.Length: > 0 } r when EffortBudgets.TryGetValue(r.Effort, out var budget) => budget,
            _ => (int?)null,
        };
        var any = request.HasTemperature || request.HasTopP || request.HasTopK || request.HasMaxTokens || request.Stop.Count > 0
            || request.HasN || request.HasSeed || request.HasPresencePenalty || request.HasFrequencyPenalty
            || format is ResponseFormat.Types.Type.JsonObject or ResponseFormat.Types.Type.JsonSchema || thinkingBudget is not null;
        if (!any)
        {
            return;
        }
        w.WriteStartObject("generationConfig");
        if (request.HasTemperature)
        {
            w.WriteNumber("temperature", request.Temperature);
        }
        if (request.HasTopP)
        {
            w.WriteNumber("topP", request.TopP);
        }
        if (request.HasTopK)
        {
            w.WriteNumber("topK", request.TopK);
        }
        if (request.HasMaxTokens)
        {
            w.WriteNumber("maxOutputTokens", request.MaxTokens);
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
        if (request.HasN)
        {
            w.WriteNumber("candidateCount", request.N);
        }
        if (request.HasSeed)
        {
            // Gemini's seed is an int32; larger seeds keep their low 32 bits, which is still deterministic.
            w.WriteNumber("seed", unchecked((int)request.Seed));
        }
        if (request.HasPresencePenalty)
        {
            w.WriteNumber("presencePenalty", request.PresencePenalty);
        }
        if (request.HasFrequencyPenalty)
        {
            w.WriteNumber("frequencyPenalty", request.FrequencyPenalty);
        }
        if (format is ResponseFormat.Types.Type.JsonObject or ResponseFormat.Types.Type.JsonSchema)
        {
            w.WriteString("responseMimeType", "application/json");
            if (format == ResponseFormat.Types.Type.JsonSchema && request.ResponseFormat!.SchemaJson.Length > 0)
            {
                w.WritePropertyName("responseJsonSchema");
                w.WriteRawValue(request.ResponseFormat.SchemaJson, skipInputValidation: true);
            }
        }
        if (thinkingBudget is { } thinking)
        {
            w.WriteStartObject("thinkingConfig");
            w.WriteNumber("thinkingBudget", thinking);
            // Thought summaries only when the caller asked for thinking by budget (Anthropic-style clients
            // show them); an OpenAI reasoning_effort caller has nowhere to receive them.
            if (request.Reasoning.BudgetTokens > 0)
            {
                w.WriteBoolean("includeThoughts", true);
            }
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    // ---- responses ----------------------------------------------------------------------------------

    public static ChatResponse ReadResponse(JsonElement root)
    {
        var response = new ChatResponse
        {
            Id = OptString(root, "responseId") ?? "",
            Model = OptString(root, "modelVersion") ?? "",
            Usage = ReadUsage(OptObject(root, "usageMetadata")),
        };
        var ordinal = 0;
        foreach (var candidate in OptArray(root, "candidates"))
        {
            var message = new Message { Role = Role.Assistant };
            var text = new StringBuilder();
            var hasText = false;
            foreach (var part in OptArray(OptObject(candidate, "content"), "parts"))
            {
                switch (ReadPart(part, message.ToolCalls.Count))
                {
                    case (PartKind.Thought, var thought, _) when thought.Length > 0:
                        message.Reasoning.Add(new ReasoningBlock { Text = thought });
                        break;
                    case (PartKind.Text, var piece, _):
                        text.Append(piece);
                        hasText = true;
                        break;
                    case (PartKind.Call, _, { } call):
                        message.ToolCalls.Add(call);
                        break;
                }
                if (OptString(part, "thoughtSignature") is { Length: > 0 } signature)
                {
                    message.Reasoning.Add(new ReasoningBlock { Signature = signature });
                }
            }
            if (hasText)
            {
                message.Content.Add(new ContentPart { Text = text.ToString() });
            }
            response.Choices.Add(new Choice
            {
                Index = CandidateIndex(candidate, ordinal++),
                Message = message,
                FinishReason = MapFinishReason(OptString(candidate, "finishReason"), message.ToolCalls.Count > 0),
            });
        }
        if (response.Choices.Count == 0)
        {
            throw NoCandidates(root);
        }
        return response;
    }

    internal enum PartKind
    {
        Other,
        Text,
        Thought,
        Call,
    }

    // One part of a candidate's content. Calls without an id (Gemini usually sends none) get `call_<n>`,
    // n being the call's ordinal in the answer, so a stream and a plain answer name them alike.
    internal static (PartKind Kind, string Text, ToolCall? Call) ReadPart(JsonElement part, int callOrdinal)
    {
        if (OptObject(part, "functionCall") is { ValueKind: JsonValueKind.Object } functionCall)
        {
            var args = OptObject(functionCall, "args");
            return (PartKind.Call, "", new ToolCall
            {
                Id = OptString(functionCall, "id") is { Length: > 0 } id ? id : $"call_{callOrdinal}",
                Name = OptString(functionCall, "name") ?? "",
                Arguments = args.ValueKind == JsonValueKind.Object ? Compact(args) : "{}",
            });
        }
        if (OptString(part, "text") is { } text)
        {
            var thought = part.TryGetProperty("thought", out var flag) && flag.ValueKind == JsonValueKind.True;
            return (thought ? PartKind.Thought : PartKind.Text, text, null);
        }
        return (PartKind.Other, "", null);
    }

    // proto3 JSON leaves out a zero index, so a missing index means the candidate's position.
    internal static int CandidateIndex(JsonElement candidate, int ordinal)
        => candidate.TryGetProperty("index", out var index) && index.ValueKind == JsonValueKind.Number && index.TryGetInt32(out var value) ? value : ordinal;

    internal static GatewayException NoCandidates(JsonElement root)
    {
        if (OptString(OptObject(root, "promptFeedback"), "blockReason") is { Length: > 0 } reason)
        {
            return new GatewayException(ErrorKind.ContentPolicy, $"The provider blocked the prompt ({reason}).", "messages");
        }
        return new GatewayException(ErrorKind.UpstreamError, "The provider returned no candidates.");
    }

    public static FinishReason MapFinishReason(string? reason, bool hasToolCalls) => reason switch
    {
        null or "" or "FINISH_REASON_UNSPECIFIED" => FinishReason.Unspecified,
        "MAX_TOKENS" => FinishReason.Length,
        "SAFETY" or "RECITATION" or "BLOCKLIST" or "PROHIBITED_CONTENT" or "SPII" or "IMAGE_SAFETY" => FinishReason.ContentFilter,
        _ when hasToolCalls => FinishReason.ToolCalls,
        // STOP, and the rest (OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL...): the model stopped on its own.
        _ => FinishReason.Stop,
    };

    public static Usage ReadUsage(JsonElement usage)
    {
        if (usage.ValueKind != JsonValueKind.Object)
        {
            return new Usage();
        }
        var thoughts = OptInt(usage, "thoughtsTokenCount");
        return new Usage
        {
            // Tokens of tool results Gemini fetched itself (search, code execution) are billed as input.
            InputTokens = OptInt(usage, "promptTokenCount") + OptInt(usage, "toolUsePromptTokenCount"),
            // Thinking is billed as output but reported apart from the answer.
            OutputTokens = OptInt(usage, "candidatesTokenCount") + thoughts,
            CachedInputTokens = OptInt(usage, "cachedContentTokenCount"),
            ReasoningTokens = thoughts,
        };
    }

    internal static string Compact(JsonElement element)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, ProviderHttp.WriterOptions))
        {
            element.WriteTo(writer);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    // ---- embeddings ---------------------------------------------------------------------------------

    public static void WriteEmbedRequest(Utf8JsonWriter w, EmbedRequest request, string model)
    {
        w.WriteStartObject();
        w.WriteStartArray("requests");
        foreach (var text in request.Input)
        {
            w.WriteStartObject();
            w.WriteString("model", "models/" + model);
            w.WriteStartObject("content");
            w.WriteStartArray("parts");
            TextPart(w, text);
            w.WriteEndArray();
            w.WriteEndObject();
            if (request.HasDimensions)
            {
                w.WriteNumber("outputDimensionality", request.Dimensions);
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    public static EmbedResponse ReadEmbedResponse(JsonElement root, string model)
    {
        // batchEmbedContents reports no token counts; usage stays zero.
        var response = new EmbedResponse { Model = model, Usage = new Usage() };
        var index = 0;
        foreach (var item in OptArray(root, "embeddings"))
        {
            var embedding = new Embedding { Index = index++ };
            foreach (var value in OptArray(item, "values"))
            {
                if (value.ValueKind == JsonValueKind.Number)
                {
                    embedding.Vector.Add(value.GetSingle());
                }
            }
            response.Data.Add(embedding);
        }
        return response;
    }
}
