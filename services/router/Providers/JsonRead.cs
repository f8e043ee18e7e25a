using System.Text.Json;
using Gateway.Common.Errors;

namespace Gateway.Router.Providers;

// Typed reads from a JsonElement that fail with a 400 naming the field (`messages[2].content`) and the
// expected type, so a client sees exactly what to fix.
public static class JsonRead
{
    public static bool TryGet(JsonElement obj, string name, out JsonElement value)
    {
        if (obj.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null)
        {
            return true;
        }
        value = default;
        return false;
    }

    public static JsonElement RequireObject(JsonElement element, string path)
        => element.ValueKind == JsonValueKind.Object ? element : throw WrongType(path, "an object", element);

    public static string RequireString(JsonElement obj, string name, string path)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            throw GatewayException.BadRequest($"Missing required parameter: '{path}'.", path, "missing_required_parameter");
        }
        return value.ValueKind == JsonValueKind.String ? value.GetString()! : throw WrongType(path, "a string", value);
    }

    public static string? String(JsonElement obj, string name, string path)
    {
        if (!TryGet(obj, name, out var value))
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw WrongType(path, "a string", value);
    }

    public static bool? Bool(JsonElement obj, string name, string path)
    {
        if (!TryGet(obj, name, out var value))
        {
            return null;
        }
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw WrongType(path, "a boolean", value),
        };
    }

    public static double? Number(JsonElement obj, string name, string path, double min, double max)
    {
        if (!TryGet(obj, name, out var value))
        {
            return null;
        }
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number) || !double.IsFinite(number))
        {
            throw WrongType(path, "a number", value);
        }
        if (number < min || number > max)
        {
            throw GatewayException.BadRequest($"Invalid '{path}': {number} is out of range; expected a value from {min} to {max}.", path, "invalid_value");
        }
        return number;
    }

    public static int? Int(JsonElement obj, string name, string path, int min, int max = int.MaxValue)
    {
        if (!TryGet(obj, name, out var value))
        {
            return null;
        }
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number))
        {
            throw WrongType(path, "an integer", value);
        }
        if (number < min || number > max)
        {
            throw GatewayException.BadRequest($"Invalid '{path}': {number} is out of range; expected an integer from {min} to {max}.", path, "invalid_value");
        }
        return (int)number;
    }

    public static long? Long(JsonElement obj, string name, string path)
    {
        if (!TryGet(obj, name, out var value))
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number) ? number : throw WrongType(path, "an integer", value);
    }

    public static JsonElement.ArrayEnumerator Array(JsonElement value, string path)
        => value.ValueKind == JsonValueKind.Array ? value.EnumerateArray() : throw WrongType(path, "an array", value);

    public static GatewayException WrongType(string path, string expected, JsonElement actual)
        => GatewayException.BadRequest($"Invalid type for '{path}': expected {expected}, but got {Describe(actual.ValueKind)}.", path, "invalid_type");

    public static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    // Provider responses: lenient reads that never throw on a missing or odd field.
    public static string? OptString(JsonElement obj, string name)
        => obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static int OptInt(JsonElement obj, string name)
        => obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : 0;

    public static long OptLong(JsonElement obj, string name)
        => obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var i) ? i : 0;

    public static JsonElement OptObject(JsonElement obj, string name)
        => obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object ? v : default;

    public static IEnumerable<JsonElement> OptArray(JsonElement obj, string name)
        => obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array ? v.EnumerateArray() : [];
}
