using System.Text.Json;
using Gateway.Common.Errors;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;
using static Gateway.Router.Providers.JsonRead;

namespace Gateway.Router.Providers.OpenAI;

// OpenAI's /v1/embeddings wire format <-> the neutral contract.
public static class OpenAiEmbeddingsCodec
{
    public const int MaxInputs = 2048;

    public static EmbedRequest ReadRequest(JsonElement root, out string encodingFormat)
    {
        RequireObject(root, "body");
        var request = new EmbedRequest { Model = RequireString(root, "model", "model"), User = String(root, "user", "user") ?? "" };
        if (!TryGet(root, "input", out var input))
        {
            throw GatewayException.BadRequest("Missing required parameter: 'input'.", "input", "missing_required_parameter");
        }
        if (input.ValueKind == JsonValueKind.String)
        {
            request.Input.Add(input.GetString()!);
        }
        else
        {
            var index = 0;
            foreach (var item in Array(input, "input"))
            {
                if (item.ValueKind != JsonValueKind.String)
                {
                    throw GatewayException.BadRequest($"Invalid type for 'input[{index}]': expected a string (token arrays are not supported by this gateway).", $"input[{index}]", "invalid_type");
                }
                request.Input.Add(item.GetString()!);
                index++;
            }
        }
        if (request.Input.Count is 0 or > MaxInputs)
        {
            throw GatewayException.BadRequest($"'input' must hold between 1 and {MaxInputs} texts.", "input", "invalid_value");
        }
        if (Int(root, "dimensions", "dimensions", 1, 65536) is { } dimensions)
        {
            request.Dimensions = dimensions;
        }
        encodingFormat = String(root, "encoding_format", "encoding_format") ?? "float";
        if (encodingFormat is not ("float" or "base64"))
        {
            throw GatewayException.BadRequest("Invalid value for 'encoding_format': use 'float' or 'base64'.", "encoding_format", "invalid_value");
        }
        return request;
    }

    public static void WriteRequest(Utf8JsonWriter w, EmbedRequest request, string model)
    {
        w.WriteStartObject();
        w.WriteString("model", model);
        w.WriteStartArray("input");
        foreach (var text in request.Input)
        {
            w.WriteStringValue(text);
        }
        w.WriteEndArray();
        if (request.HasDimensions)
        {
            w.WriteNumber("dimensions", request.Dimensions);
        }
        if (request.User.Length > 0)
        {
            w.WriteString("user", request.User);
        }
        w.WriteString("encoding_format", "float");
        w.WriteEndObject();
    }

    public static EmbedResponse ReadResponse(JsonElement root)
    {
        var response = new EmbedResponse { Model = OptString(root, "model") ?? "" };
        foreach (var item in OptArray(root, "data"))
        {
            var embedding = new Embedding { Index = OptInt(item, "index") };
            foreach (var value in OptArray(item, "embedding"))
            {
                embedding.Vector.Add(value.GetSingle());
            }
            response.Data.Add(embedding);
        }
        var usage = OptObject(root, "usage");
        response.Usage = new Usage { InputTokens = OptInt(usage, "prompt_tokens") };
        return response;
    }

    public static void WriteResponse(Utf8JsonWriter w, EmbedResponse response, string encodingFormat)
    {
        w.WriteStartObject();
        w.WriteString("object", "list");
        w.WriteStartArray("data");
        foreach (var embedding in response.Data)
        {
            w.WriteStartObject();
            w.WriteString("object", "embedding");
            w.WriteNumber("index", embedding.Index);
            if (encodingFormat == "base64")
            {
                var bytes = new byte[embedding.Vector.Count * sizeof(float)];
                for (var i = 0; i < embedding.Vector.Count; i++)
                {
                    System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), embedding.Vector[i]);
                }
                w.WriteBase64String("embedding", bytes);
            }
            else
            {
                w.WriteStartArray("embedding");
                foreach (var value in embedding.Vector)
                {
                    w.WriteNumberValue(value);
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteString("model", response.Model);
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", response.Usage?.InputTokens ?? 0);
        w.WriteNumber("total_tokens", response.Usage?.InputTokens ?? 0);
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
