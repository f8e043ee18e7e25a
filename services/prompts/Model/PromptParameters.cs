using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Contracts.Inference.V1;

namespace Gateway.Prompts.Model;

// A version's response_format and tools, written in the OpenAI shapes, onto the neutral contract.
public static class PromptParameters
{
    public static ResponseFormat? ResponseFormat(JsonNode? node)
    {
        if (node is not JsonObject format)
        {
            return null;
        }
        var type = format["type"] is { } t && t.GetValueKind() == JsonValueKind.String ? t.GetValue<string>() : null;
        var result = new ResponseFormat
        {
            Type = type switch
            {
                "text" => Contracts.Inference.V1.ResponseFormat.Types.Type.Text,
                "json_object" => Contracts.Inference.V1.ResponseFormat.Types.Type.JsonObject,
                "json_schema" => Contracts.Inference.V1.ResponseFormat.Types.Type.JsonSchema,
                _ => throw PromptDefinition.Bad("response_format.type must be text, json_object or json_schema.", "response_format.type"),
            },
        };
        if (type == "json_schema")
        {
            var schema = format["json_schema"] as JsonObject ?? throw PromptDefinition.Bad("response_format.json_schema must be an object {name, schema, strict}.", "response_format.json_schema");
            result.SchemaName = schema["name"] is { } n && n.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : throw PromptDefinition.Bad("response_format.json_schema.name is required.", "response_format.json_schema.name");
            result.SchemaJson = schema["schema"] is JsonObject s ? s.ToJsonString() : "";
            if (schema["strict"] is { } strict && strict.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
            {
                result.Strict = strict.GetValue<bool>();
            }
            if (schema["description"] is { } d && d.GetValueKind() == JsonValueKind.String)
            {
                result.Description = d.GetValue<string>();
            }
        }
        return result;
    }

    public static List<Tool> Tools(JsonArray? tools)
    {
        var result = new List<Tool>();
        if (tools is null)
        {
            return result;
        }
        for (var i = 0; i < tools.Count; i++)
        {
            var path = $"tools[{i}]";
            var function = (tools[i] as JsonObject)?["function"] as JsonObject
                ?? throw PromptDefinition.Bad($"{path} must be {{\"type\":\"function\",\"function\":{{name, description, parameters}}}}.", path);
            var tool = new Tool
            {
                Name = function["name"] is { } n && n.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : throw PromptDefinition.Bad($"{path}.function.name is required.", $"{path}.function.name"),
                Description = function["description"] is { } d && d.GetValueKind() == JsonValueKind.String ? d.GetValue<string>() : "",
                ParametersJson = function["parameters"] is JsonObject p ? p.ToJsonString() : "",
            };
            if (function["strict"] is { } strict && strict.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
            {
                tool.Strict = strict.GetValue<bool>();
            }
            result.Add(tool);
        }
        return result;
    }
}
