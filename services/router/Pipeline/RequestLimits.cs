using System.Text.Json;
using Gateway.Common.Errors;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;

namespace Gateway.Router.Pipeline;

// Checks every neutral request before anything else happens to it (no authentication, no trace, no budget
// hold, no provider call). The REST codecs already refuse most of this in their own words; gRPC clients build
// the neutral messages themselves, so this is the one place that holds for every surface. Limits are no
// stricter than any codec's: a request a codec accepts always passes.
public static class RequestLimits
{
    public const int MaxModelNameLength = 256;
    public const int MaxMessages = 10_000;
    public const int MaxTools = 1_024;
    public const int MaxToolNameLength = 128;
    public const int MaxEmbeddingInputs = 2_048;

    public static void Check(ChatRequest request)
    {
        CheckModel(request.Model);
        // With a prompt reference, model and messages may come from the prompt (checked once it is applied).
        if (request.Prompt is not { Id.Length: > 0 })
        {
            if (request.Model.Length == 0)
            {
                throw GatewayException.BadRequest("'model' must not be empty.", "model");
            }
            if (request.Messages.Count == 0)
            {
                throw GatewayException.BadRequest("'messages' must contain at least one message.", "messages", "empty_array");
            }
        }
        if (request.Messages.Count > MaxMessages)
        {
            throw TooMany("messages", request.Messages.Count, MaxMessages);
        }
        for (var i = 0; i < request.Messages.Count; i++)
        {
            if (request.Messages[i].Role is Role.Unspecified || !Enum.IsDefined(request.Messages[i].Role))
            {
                throw GatewayException.BadRequest($"Invalid value for 'messages[{i}].role': set one of system, developer, user, assistant or tool.", $"messages[{i}].role", "invalid_value");
            }
        }
        if (request.Tools.Count > MaxTools)
        {
            throw TooMany("tools", request.Tools.Count, MaxTools);
        }
        for (var i = 0; i < request.Tools.Count; i++)
        {
            CheckTool(request.Tools[i], $"tools[{i}]");
        }
        if (request.HasTemperature)
        {
            Range("temperature", request.Temperature, 0, 2);
        }
        if (request.HasTopP)
        {
            Range("top_p", request.TopP, 0, 1);
        }
        if (request.HasPresencePenalty)
        {
            Range("presence_penalty", request.PresencePenalty, -2, 2);
        }
        if (request.HasFrequencyPenalty)
        {
            Range("frequency_penalty", request.FrequencyPenalty, -2, 2);
        }
        if (request.HasMaxTokens && request.MaxTokens < 1)
        {
            throw OutOfRange("max_tokens", request.MaxTokens, "at least 1");
        }
        if (request.HasN && request.N is < 1 or > 128)
        {
            throw OutOfRange("n", request.N, "from 1 to 128");
        }
        if (request.HasTopK && request.TopK < 0)
        {
            throw OutOfRange("top_k", request.TopK, "0 or more");
        }
    }

    public static void Check(EmbedRequest request)
    {
        CheckModel(request.Model);
        if (request.Input.Count == 0)
        {
            throw GatewayException.BadRequest("'input' must contain at least one text.", "input", "invalid_value");
        }
        if (request.Input.Count > MaxEmbeddingInputs)
        {
            throw TooMany("input", request.Input.Count, MaxEmbeddingInputs);
        }
        if (request.HasDimensions && request.Dimensions < 1)
        {
            throw OutOfRange("dimensions", request.Dimensions, "at least 1");
        }
    }

    // A model is a name from the configuration: short and printable. The message never repeats a long name.
    private static void CheckModel(string model)
    {
        if (model.Length > MaxModelNameLength)
        {
            throw GatewayException.BadRequest($"Invalid 'model': {model.Length} characters; a model name has at most {MaxModelNameLength}.", "model", "invalid_value");
        }
        if (model.Any(char.IsControl) || model.Any(char.IsSurrogate))
        {
            throw GatewayException.BadRequest("Invalid 'model': it contains control characters or invalid Unicode.", "model", "invalid_value");
        }
    }

    private static void CheckTool(Tool tool, string path)
    {
        if (tool.Name.Length is 0 or > MaxToolNameLength || !tool.Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
        {
            throw GatewayException.BadRequest($"Invalid '{path}.name': use 1 to {MaxToolNameLength} letters, digits, '_' or '-'.", $"{path}.name", "invalid_value");
        }
        if (tool.ParametersJson.Length == 0)
        {
            return;
        }
        try
        {
            using var schema = JsonDocument.Parse(tool.ParametersJson);
            if (schema.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new JsonException();
            }
        }
        catch (JsonException)
        {
            throw GatewayException.BadRequest($"Invalid '{path}.parameters': expected a JSON Schema object.", $"{path}.parameters", "invalid_value");
        }
    }

    private static void Range(string name, double value, double min, double max)
    {
        if (!double.IsFinite(value) || value < min || value > max)
        {
            throw GatewayException.BadRequest($"Invalid '{name}': expected a number from {min} to {max}.", name, "invalid_value");
        }
    }

    private static GatewayException OutOfRange(string name, long value, string expected)
        => GatewayException.BadRequest($"Invalid '{name}': {value} is out of range; expected {expected}.", name, "invalid_value");

    private static GatewayException TooMany(string name, int count, int max)
        => GatewayException.BadRequest($"Invalid '{name}': {count} items; at most {max} are accepted.", name, "array_too_long");
}
