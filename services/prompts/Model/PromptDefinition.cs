using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;

namespace Gateway.Prompts.Model;

public sealed record PromptVariable(string Name, string Type, bool Required, JsonNode? Default);

public sealed record PromptMessage(string Role, string Content);

// A version's content: a chat template (messages with roles) or a text template (one user message),
// declared variables, and optional model and parameters. Parsed from JSON (the API) or YAML (prompt files,
// through the same JSON shape); written back canonically, and the SHA-256 of that text is the content hash.
public sealed record PromptDefinition
{
    // Far more than any real prompt; bounds the work of validating, hashing and rendering a version.
    public const int MaxMessages = 1_000;

    public static readonly IReadOnlyList<string> VariableTypes = ["string", "number", "boolean", "json"];
    public static readonly IReadOnlyList<string> Roles = ["system", "developer", "user", "assistant"];

    public string Type { get; init; } = "chat";
    public IReadOnlyList<PromptMessage> Messages { get; init; } = [];
    public string? Text { get; init; }
    public IReadOnlyList<PromptVariable> Variables { get; init; } = [];
    public bool AllowExtraVariables { get; init; }
    public string? Model { get; init; }
    public double? Temperature { get; init; }
    public int? MaxTokens { get; init; }
    // OpenAI shapes, kept as JSON: {"type":"json_schema","json_schema":{...}} and [{"type":"function",...}].
    public JsonNode? ResponseFormat { get; init; }
    public JsonArray? Tools { get; init; }

    // The canonical JSON: fixed key order, defaults written out, so equal content means equal text.
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("type", Type);
            if (Type == "chat")
            {
                w.WriteStartArray("messages");
                foreach (var m in Messages)
                {
                    w.WriteStartObject();
                    w.WriteString("role", m.Role);
                    w.WriteString("content", m.Content);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            else
            {
                w.WriteString("text", Text);
            }
            w.WriteStartArray("variables");
            foreach (var v in Variables)
            {
                w.WriteStartObject();
                w.WriteString("name", v.Name);
                w.WriteString("type", v.Type);
                w.WriteBoolean("required", v.Required);
                if (v.Default is not null)
                {
                    w.WritePropertyName("default");
                    v.Default.WriteTo(w);
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteBoolean("allow_extra_variables", AllowExtraVariables);
            if (Model is not null)
            {
                w.WriteString("model", Model);
            }
            if (Temperature is { } temperature)
            {
                w.WriteNumber("temperature", temperature);
            }
            if (MaxTokens is { } maxTokens)
            {
                w.WriteNumber("max_tokens", maxTokens);
            }
            if (ResponseFormat is not null)
            {
                w.WritePropertyName("response_format");
                ResponseFormat.WriteTo(w);
            }
            if (Tools is not null)
            {
                w.WritePropertyName("tools");
                Tools.WriteTo(w);
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public string ContentHash() => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ToJson())));

    // Every problem is a 400 naming the field, so the API and the sync command report the same thing.
    public static PromptDefinition Parse(string json)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            throw Bad($"The prompt definition is not valid JSON: {e.Message}", "definition");
        }
        return Parse(root as JsonObject ?? throw Bad("The prompt definition must be a JSON object.", "definition"));
    }

    public static PromptDefinition Parse(JsonObject root)
    {
        foreach (var (key, _) in root)
        {
            if (key is not ("type" or "messages" or "text" or "variables" or "allow_extra_variables" or "model" or "temperature" or "max_tokens" or "response_format" or "tools"))
            {
                throw Bad($"Unknown field '{key}' in the prompt definition; use type, messages, text, variables, allow_extra_variables, model, temperature, max_tokens, response_format, tools.", key);
            }
        }
        var type = OptionalString(root, "type") ?? (root["text"] is not null ? "text" : "chat");
        if (type is not ("chat" or "text"))
        {
            throw Bad("'type' must be chat or text.", "type");
        }
        var messages = new List<PromptMessage>();
        string? text = null;
        if (type == "chat")
        {
            if (root["messages"] is not JsonArray array || array.Count == 0)
            {
                throw Bad("A chat prompt needs 'messages': a non-empty list of {role, content}.", "messages");
            }
            if (array.Count > MaxMessages)
            {
                throw Bad($"A prompt has at most {MaxMessages} messages; this one has {array.Count}.", "messages");
            }
            for (var i = 0; i < array.Count; i++)
            {
                var item = array[i] as JsonObject ?? throw Bad($"messages[{i}] must be an object {{role, content}}.", $"messages[{i}]");
                var role = OptionalString(item, "role", $"messages[{i}].role") ?? throw Bad($"messages[{i}].role is required.", $"messages[{i}].role");
                if (!Roles.Contains(role))
                {
                    throw Bad($"messages[{i}].role must be one of {string.Join(", ", Roles)}.", $"messages[{i}].role");
                }
                var content = OptionalString(item, "content", $"messages[{i}].content") ?? throw Bad($"messages[{i}].content is required.", $"messages[{i}].content");
                messages.Add(new PromptMessage(role, content));
            }
            if (root["text"] is not null)
            {
                throw Bad("A chat prompt has 'messages', not 'text'.", "text");
            }
        }
        else
        {
            text = OptionalString(root, "text") ?? throw Bad("A text prompt needs 'text'.", "text");
            if (root["messages"] is not null)
            {
                throw Bad("A text prompt has 'text', not 'messages'.", "messages");
            }
        }
        var variables = new List<PromptVariable>();
        if (root["variables"] is { } variablesNode)
        {
            var list = variablesNode as JsonArray ?? throw Bad("'variables' must be a list of {name, type, required, default}.", "variables");
            for (var i = 0; i < list.Count; i++)
            {
                variables.Add(ParseVariable(list[i] as JsonObject ?? throw Bad($"variables[{i}] must be an object.", $"variables[{i}]"), $"variables[{i}]", variables));
            }
        }
        var temperature = root["temperature"] is { } t ? Number(t, "temperature") : (double?)null;
        if (temperature is < 0 or > 2)
        {
            throw Bad("'temperature' must be between 0 and 2.", "temperature");
        }
        int? maxTokens = null;
        if (root["max_tokens"] is { } mt)
        {
            var value = Number(mt, "max_tokens");
            if (value != Math.Floor(value) || value is < 1 or > int.MaxValue)
            {
                throw Bad("'max_tokens' must be a positive whole number.", "max_tokens");
            }
            maxTokens = (int)value;
        }
        var model = OptionalString(root, "model");
        if (model is not null && !ConfigNames.IsModelName(model))
        {
            throw Bad($"'model' must be a model name ({ConfigNames.ModelNameRule}).", "model");
        }
        var responseFormat = root["response_format"]?.DeepClone();
        if (responseFormat is not null and not JsonObject)
        {
            throw Bad("'response_format' must be an object as in the OpenAI API, e.g. {\"type\":\"json_object\"}.", "response_format");
        }
        if (root["tools"] is { } tools && tools is not JsonArray)
        {
            throw Bad("'tools' must be a list of tools as in the OpenAI API.", "tools");
        }
        var definition = new PromptDefinition
        {
            Type = type,
            Messages = messages,
            Text = text,
            Variables = variables,
            AllowExtraVariables = root["allow_extra_variables"] is { } extra
                ? extra.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? extra.GetValue<bool>() : throw Bad("'allow_extra_variables' must be true or false.", "allow_extra_variables")
                : false,
            Model = model,
            Temperature = temperature,
            MaxTokens = maxTokens,
            ResponseFormat = responseFormat,
            Tools = (JsonArray?)root["tools"]?.DeepClone(),
        };
        // Parse the OpenAI shapes now, so a bad one is refused at creation rather than on the request path.
        PromptParameters.ResponseFormat(definition.ResponseFormat);
        PromptParameters.Tools(definition.Tools);
        return definition;
    }

    private static PromptVariable ParseVariable(JsonObject item, string path, List<PromptVariable> earlier)
    {
        var name = OptionalString(item, "name", $"{path}.name") ?? throw Bad($"{path}.name is required.", $"{path}.name");
        if (!IsVariableName(name))
        {
            throw Bad($"{path}.name '{name}' is not a variable name: letters, digits and '_', starting with a letter or '_'.", $"{path}.name");
        }
        if (earlier.Any(v => v.Name == name))
        {
            throw Bad($"Variable '{name}' is declared twice.", $"{path}.name");
        }
        var type = OptionalString(item, "type", $"{path}.type") ?? "string";
        if (!VariableTypes.Contains(type))
        {
            throw Bad($"{path}.type must be one of {string.Join(", ", VariableTypes)}.", $"{path}.type");
        }
        var fallback = item["default"]?.DeepClone();
        if (fallback is not null)
        {
            PromptValues.Check(name, type, fallback.GetValueKind(), $"{path}.default");
        }
        var required = item["required"] is { } r
            ? r.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? r.GetValue<bool>() : throw Bad($"{path}.required must be true or false.", $"{path}.required")
            : fallback is null;
        return new PromptVariable(name, type, required, fallback);
    }

    public static bool IsVariableName(string name)
        => name.Length is > 0 and <= 64 && (char.IsAsciiLetter(name[0]) || name[0] == '_') && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    private static string? OptionalString(JsonObject node, string key, string? path = null)
    {
        var value = node[key];
        if (value is null)
        {
            return null;
        }
        return value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : throw Bad($"'{path ?? key}' must be a string.", path ?? key);
    }

    private static double Number(JsonNode node, string path)
        => node.GetValueKind() == JsonValueKind.Number ? node.GetValue<double>() : throw Bad($"'{path}' must be a number.", path);

    internal static GatewayException Bad(string message, string param) => GatewayException.BadRequest(message, param, "invalid_prompt");
}
