using System.Globalization;
using System.Text.Json;
using Gateway.Common.Errors;

namespace Gateway.Prompts.Model;

// Request variables against a version's declarations: a missing required variable or an undeclared one
// (unless the version allows extras) is a 400 naming it; values of the wrong type too. Values go into the
// template as text: strings as they are, numbers and booleans as JSON writes them, json values as JSON text.
public static class PromptValues
{
    public static void Check(string name, string type, JsonValueKind kind, string param)
    {
        var ok = type switch
        {
            "string" => kind == JsonValueKind.String,
            "number" => kind == JsonValueKind.Number,
            "boolean" => kind is JsonValueKind.True or JsonValueKind.False,
            _ => kind != JsonValueKind.Undefined,
        };
        if (!ok)
        {
            throw GatewayException.BadRequest($"Prompt variable '{name}' must be a {type}.", param, "invalid_prompt_variable");
        }
    }

    public static object? Value(JsonElement value, string type) => value.ValueKind switch
    {
        JsonValueKind.String when type != "json" => value.GetString(),
        // Booleans stay booleans so {{#if flag}} sections work; they print as true/false.
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Null => null,
        _ => value.GetRawText(),
    };

    public static Dictionary<string, object?> Bind(PromptDefinition definition, string? variablesJson, IReadOnlyDictionary<string, object?> defaults)
    {
        var bound = new Dictionary<string, object?>(defaults, StringComparer.Ordinal);
        var given = new HashSet<string>(StringComparer.Ordinal);
        if (!string.IsNullOrEmpty(variablesJson))
        {
            using var document = JsonDocument.Parse(variablesJson);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                var declared = Find(definition, property.Name);
                if (declared is null)
                {
                    if (!definition.AllowExtraVariables)
                    {
                        throw GatewayException.BadRequest($"Unknown prompt variable '{property.Name}'; this version declares: {Names(definition)}.", $"prompt.variables.{property.Name}", "unknown_prompt_variable");
                    }
                    continue;
                }
                Check(declared.Name, declared.Type, property.Value.ValueKind, $"prompt.variables.{property.Name}");
                bound[declared.Name] = Value(property.Value, declared.Type);
                given.Add(declared.Name);
            }
        }
        foreach (var variable in definition.Variables)
        {
            if (variable.Required && !given.Contains(variable.Name))
            {
                throw GatewayException.BadRequest($"Missing required prompt variable '{variable.Name}'.", $"prompt.variables.{variable.Name}", "missing_prompt_variable");
            }
        }
        return bound;
    }

    private static PromptVariable? Find(PromptDefinition definition, string name)
    {
        foreach (var variable in definition.Variables)
        {
            if (variable.Name == name)
            {
                return variable;
            }
        }
        return null;
    }

    private static string Names(PromptDefinition definition)
        => definition.Variables.Count == 0 ? "(none)" : string.Join(", ", definition.Variables.Select(v => v.Name));

    public static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
