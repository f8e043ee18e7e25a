using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Gateway.Testing.Fakes;

// A Gemini API (v1beta) server speaking the real wire format: generateContent answers pretty-printed as
// Google sends them, streamGenerateContent?alt=sse with CRLF-framed events that each hold a whole
// GenerateContentResponse, batchEmbedContents, and google.rpc.Status error bodies. A wrong or missing
// x-goog-api-key gets the 400 API_KEY_INVALID the real service answers with. Replies come from the queue,
// else it echoes the last user text.
public sealed class FakeGemini : FakeUpstream
{
    private static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true };

    public ConcurrentQueue<FakeReply> Replies { get; } = new();

    // The key the fake accepts; null accepts any.
    public string? ApiKey { get; set; }

    public string ModelVersion { get; set; } = "gemini-2.5-flash";

    // Thought summary text sent before the answer (as `thought: true` parts), when set.
    public string? Thought { get; set; }

    public static async Task<FakeGemini> StartNewAsync(string? apiKey = null)
    {
        var fake = new FakeGemini { ApiKey = apiKey };
        await fake.StartAsync();
        return fake;
    }

    // A google.rpc.Status error body as the Gemini API sends it.
    public static string ErrorBody(int code, string status, string message, params JsonObject[] details)
        => new JsonObject
        {
            ["error"] = new JsonObject
            {
                ["code"] = code,
                ["message"] = message,
                ["status"] = status,
                ["details"] = new JsonArray(details.Select(d => (JsonNode)d).ToArray()),
            },
        }.ToJsonString(Pretty);

    protected override void Map(WebApplication app)
        => app.MapPost("/v1beta/models/{target}", HandleAsync);

    private async Task HandleAsync(HttpContext context, string target)
    {
        // `{model}:{method}` is one path segment.
        var colon = target.LastIndexOf(':');
        var method = colon < 0 ? "" : target[(colon + 1)..];
        var model = colon < 0 ? target : target[..colon];
        if (ApiKey is not null && context.Request.Headers["x-goog-api-key"] != ApiKey)
        {
            await WriteErrorAsync(context.Response, 400, ErrorBody(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", new JsonObject
            {
                ["@type"] = "type.googleapis.com/google.rpc.ErrorInfo",
                ["reason"] = "API_KEY_INVALID",
                ["domain"] = "googleapis.com",
                ["metadata"] = new JsonObject { ["service"] = "generativelanguage.googleapis.com" },
            }));
            return;
        }
        var request = (await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted))!.AsObject();
        switch (method)
        {
            case "generateContent":
            case "streamGenerateContent":
                await GenerateAsync(context, request, stream: method == "streamGenerateContent");
                break;
            case "batchEmbedContents":
                await EmbedAsync(context, request, model);
                break;
            default:
                await WriteErrorAsync(context.Response, 404, ErrorBody(404, "NOT_FOUND", $"Method '{method}' is not found for model '{model}'."));
                break;
        }
    }

    // Answers a parsed generateContent request; the fake Vertex AI serves Gemini through this too.
    internal async Task GenerateAsync(HttpContext context, JsonObject request, bool stream)
    {
        var reply = Replies.TryDequeue(out var next) ? next : FakeReply.Say("Echo: " + LastUserText(request));
        foreach (var (name, value) in reply.Headers)
        {
            context.Response.Headers[name] = value;
        }
        if (reply.Status != 200)
        {
            await WriteErrorAsync(context.Response, reply.Status, reply.ErrorBody ?? "{}");
            return;
        }
        if (!stream)
        {
            context.Response.ContentType = "application/json; charset=UTF-8";
            await context.Response.WriteAsync(Response(Parts(reply, whole: true), "STOP", Usage(reply, final: true)).ToJsonString(Pretty), context.RequestAborted);
            return;
        }
        if (context.Request.Query["alt"] != "sse")
        {
            // Without alt=sse Gemini streams one JSON array; the gateway must never ask for that.
            await WriteErrorAsync(context.Response, 400, ErrorBody(400, "INVALID_ARGUMENT", "This fake serves streams only with alt=sse."));
            return;
        }
        await WriteSseAsync(context.Response, StreamFrames(reply), context.RequestAborted);
        if (reply.DropAfterChunks is not null)
        {
            context.Abort();
        }
    }

    private JsonObject Response(JsonArray parts, string? finishReason, JsonObject usage)
    {
        var candidate = new JsonObject { ["content"] = new JsonObject { ["parts"] = parts, ["role"] = "model" } };
        if (finishReason is not null)
        {
            candidate["finishReason"] = finishReason;
        }
        // proto3 JSON: the zero index is left out, just as Google's servers do.
        return new JsonObject
        {
            ["candidates"] = new JsonArray(candidate),
            ["usageMetadata"] = usage,
            ["modelVersion"] = ModelVersion,
            ["responseId"] = "fake-gemini-resp-1",
        };
    }

    private JsonArray Parts(FakeReply reply, bool whole)
    {
        var parts = new JsonArray();
        if (whole && Thought is not null)
        {
            parts.Add(new JsonObject { ["text"] = Thought, ["thought"] = true });
        }
        if (whole && reply.Text is not null)
        {
            parts.Add(new JsonObject { ["text"] = reply.Text });
        }
        foreach (var call in reply.ToolCalls)
        {
            var functionCall = new JsonObject { ["name"] = call.Name, ["args"] = JsonNode.Parse(call.ArgumentsJson) };
            // The Gemini API usually sends no call id; a reply with an id exercises the one that does.
            if (call.Id.Length > 0)
            {
                functionCall["id"] = call.Id;
            }
            parts.Add(new JsonObject { ["functionCall"] = functionCall });
        }
        return parts;
    }

    private JsonObject Usage(FakeReply reply, bool final)
    {
        var usage = new JsonObject { ["promptTokenCount"] = reply.InputTokens };
        if (final)
        {
            var thoughts = Thought is null ? 0 : 3;
            usage["candidatesTokenCount"] = reply.OutputTokens;
            usage["totalTokenCount"] = reply.InputTokens + reply.OutputTokens + thoughts;
            if (thoughts > 0)
            {
                usage["thoughtsTokenCount"] = thoughts;
            }
        }
        else
        {
            usage["totalTokenCount"] = reply.InputTokens;
        }
        return usage;
    }

    private IEnumerable<string> StreamFrames(FakeReply reply)
    {
        // Google frames events with CRLF line endings.
        static string Frame(JsonObject response) => "data: " + response.ToJsonString() + "\r\n\r\n";

        if (Thought is not null)
        {
            yield return Frame(Response(new JsonArray(new JsonObject { ["text"] = Thought, ["thought"] = true }), null, Usage(reply, final: false)));
        }
        var sent = 0;
        if (reply.Text is { } text)
        {
            foreach (var piece in FakeReply.Pieces(text, 4))
            {
                if (reply.DropAfterChunks is { } drop && sent++ >= drop)
                {
                    yield break;
                }
                yield return Frame(Response(new JsonArray(new JsonObject { ["text"] = piece }), null, Usage(reply, final: false)));
            }
        }
        // Gemini sends function calls whole, in the final event with the finish reason and full usage.
        yield return Frame(Response(Parts(reply, whole: false), "STOP", Usage(reply, final: true)));
    }

    private async Task EmbedAsync(HttpContext context, JsonObject request, string model)
    {
        if (Replies.TryDequeue(out var reply) && reply.Status != 200)
        {
            await WriteErrorAsync(context.Response, reply.Status, reply.ErrorBody ?? "{}");
            return;
        }
        var embeddings = new JsonArray();
        foreach (var item in request["requests"]!.AsArray())
        {
            if (item!["model"]?.GetValue<string>() != "models/" + model)
            {
                await WriteErrorAsync(context.Response, 400, ErrorBody(400, "INVALID_ARGUMENT", $"Model '{item["model"]}' in a batch request does not match the endpoint's model."));
                return;
            }
            var text = string.Concat(item["content"]!["parts"]!.AsArray().Select(p => p!["text"]?.GetValue<string>()));
            var dimensions = item["outputDimensionality"]?.GetValue<int>() ?? 4;
            // Deterministic vectors derived from the text, so tests can tell inputs apart.
            var values = new JsonArray(Enumerable.Range(0, dimensions).Select(d => (JsonNode)JsonValue.Create((float)((text.Length + d) % 7) / 7f)!).ToArray());
            embeddings.Add(new JsonObject { ["values"] = values });
        }
        context.Response.ContentType = "application/json; charset=UTF-8";
        await context.Response.WriteAsync(new JsonObject { ["embeddings"] = embeddings }.ToJsonString(Pretty), context.RequestAborted);
    }

    internal static async Task WriteErrorAsync(HttpResponse response, int status, string body)
    {
        response.StatusCode = status;
        response.ContentType = "application/json; charset=UTF-8";
        await response.WriteAsync(body);
    }

    private static string LastUserText(JsonObject request)
    {
        var last = request["contents"]!.AsArray().LastOrDefault(c => c!["role"]?.GetValue<string>() == "user");
        return last is null ? "" : string.Concat(last["parts"]!.AsArray().Select(p => p!["text"]?.GetValue<string>()));
    }
}
