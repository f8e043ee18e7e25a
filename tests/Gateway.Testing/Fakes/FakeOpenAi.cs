using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Gateway.Testing.Fakes;

// An OpenAI (and Azure OpenAI) Chat Completions / Embeddings server speaking the real wire format,
// streaming with SSE exactly as OpenAI frames it. Replies come from the queue, else it echoes the last
// user message.
public sealed class FakeOpenAi : FakeUpstream
{
    public ConcurrentQueue<FakeReply> Replies { get; } = new();

    public string ModelReported { get; set; } = "gpt-4o-2024-08-06";

    public static async Task<FakeOpenAi> StartNewAsync()
    {
        var fake = new FakeOpenAi();
        await fake.StartAsync();
        return fake;
    }

    protected override void Map(WebApplication app)
    {
        app.MapPost("/v1/chat/completions", ChatAsync);
        app.MapPost("/openai/deployments/{deployment}/chat/completions", ChatAsync);
        app.MapPost("/v1/embeddings", EmbeddingsAsync);
        app.MapPost("/openai/deployments/{deployment}/embeddings", EmbeddingsAsync);
    }

    private async Task ChatAsync(HttpContext context)
    {
        var request = (await JsonNode.ParseAsync(context.Request.Body))!.AsObject();
        var reply = Replies.TryDequeue(out var next) ? next : FakeReply.Say("Echo: " + LastUserText(request));
        if (reply.Gate is { } gate)
        {
            await gate.WaitAsync(context.RequestAborted);
        }
        foreach (var (name, value) in reply.Headers)
        {
            context.Response.Headers[name] = value;
        }
        if (reply.Status != 200)
        {
            context.Response.StatusCode = reply.Status;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(reply.ErrorBody ?? "{}");
            return;
        }
        var stream = request["stream"]?.GetValue<bool>() == true;
        if (!stream)
        {
            await context.Response.WriteAsJsonAsync(Completion(reply));
            return;
        }
        if (reply.FirstChunkGate is { } firstChunk)
        {
            context.Response.ContentType = "text/event-stream";
            await context.Response.StartAsync(context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            await firstChunk.WaitAsync(context.RequestAborted);
        }
        if (reply.StallAfterChunks is { } stall)
        {
            // The first frame only opens the assistant message; content frames follow it.
            var frames = StreamFrames(reply, request).ToList();
            await WriteSseAsync(context.Response, frames.Take(stall + 1), context.RequestAborted);
            await (reply.StallGate ?? Task.CompletedTask).WaitAsync(context.RequestAborted);
            await WriteSseAsync(context.Response, frames.Skip(stall + 1), context.RequestAborted);
            return;
        }
        await WriteSseAsync(context.Response, StreamFrames(reply, request), context.RequestAborted);
        if (reply.DropAfterChunks is not null)
        {
            // Let the frames already written reach the gateway first: a reset discards unread bytes.
            await Task.Delay(200, context.RequestAborted);
            context.Abort();
        }
    }

    private JsonObject Completion(FakeReply reply)
    {
        var message = new JsonObject { ["role"] = "assistant", ["content"] = reply.Text, ["refusal"] = null };
        if (reply.Thinking is { } thinking)
        {
            message["reasoning_content"] = thinking;
        }
        if (reply.ToolCalls.Count > 0)
        {
            message["tool_calls"] = new JsonArray(reply.ToolCalls.Select(c => (JsonNode)new JsonObject
            {
                ["id"] = c.Id,
                ["type"] = "function",
                ["function"] = new JsonObject { ["name"] = c.Name, ["arguments"] = c.ArgumentsJson },
            }).ToArray());
        }
        return new JsonObject
        {
            ["id"] = "chatcmpl-fake123",
            ["object"] = "chat.completion",
            ["created"] = 1_700_000_000,
            ["model"] = ModelReported,
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = message,
                ["logprobs"] = null,
                ["finish_reason"] = reply.ToolCalls.Count > 0 ? "tool_calls" : "stop",
            }),
            ["usage"] = Usage(reply),
            ["system_fingerprint"] = "fp_fake",
        };
    }

    private static JsonObject Usage(FakeReply reply) => new()
    {
        ["prompt_tokens"] = reply.InputTokens,
        ["completion_tokens"] = reply.OutputTokens,
        ["total_tokens"] = reply.InputTokens + reply.OutputTokens,
        ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = reply.CachedInputTokens },
        ["completion_tokens_details"] = new JsonObject { ["reasoning_tokens"] = reply.ReasoningTokens },
    };

    private IEnumerable<string> StreamFrames(FakeReply reply, JsonObject request)
    {
        var includeUsage = request["stream_options"]?["include_usage"]?.GetValue<bool>() == true;
        string Frame(JsonArray choices, JsonNode? usage = null)
        {
            var chunk = new JsonObject
            {
                ["id"] = "chatcmpl-fake123",
                ["object"] = "chat.completion.chunk",
                ["created"] = 1_700_000_000,
                ["model"] = ModelReported,
                ["system_fingerprint"] = "fp_fake",
                ["choices"] = choices,
            };
            if (includeUsage)
            {
                chunk["usage"] = usage;
            }
            return "data: " + chunk.ToJsonString() + "\n\n";
        }
        JsonArray Delta(JsonObject delta, string? finish = null) => new(new JsonObject
        {
            ["index"] = 0,
            ["delta"] = delta,
            ["logprobs"] = null,
            ["finish_reason"] = finish,
        });

        yield return Frame(Delta(new JsonObject { ["role"] = "assistant", ["content"] = "", ["refusal"] = null }));
        foreach (var piece in FakeReply.Pieces(reply.Thinking ?? "", 5))
        {
            yield return Frame(Delta(new JsonObject { ["reasoning_content"] = piece }));
        }
        var sent = 0;
        if (reply.Text is { } text)
        {
            // Split into small pieces, deliberately cutting through multi-byte characters' neighbours.
            foreach (var piece in FakeReply.Pieces(text))
            {
                if (reply.DropAfterChunks is { } drop && sent++ >= drop)
                {
                    yield break;
                }
                yield return Frame(Delta(new JsonObject { ["content"] = piece }));
            }
        }
        var index = 0;
        foreach (var call in reply.ToolCalls)
        {
            yield return Frame(Delta(new JsonObject
            {
                ["tool_calls"] = new JsonArray(new JsonObject
                {
                    ["index"] = index,
                    ["id"] = call.Id,
                    ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = call.Name, ["arguments"] = "" },
                }),
            }));
            var args = call.ArgumentsJson;
            var half = args.Length / 2;
            foreach (var part in new[] { args[..half], args[half..] })
            {
                yield return Frame(Delta(new JsonObject
                {
                    ["tool_calls"] = new JsonArray(new JsonObject { ["index"] = index, ["function"] = new JsonObject { ["arguments"] = part } }),
                }));
            }
            index++;
        }
        yield return Frame(Delta(new JsonObject(), reply.ToolCalls.Count > 0 ? "tool_calls" : "stop"));
        if (includeUsage)
        {
            yield return Frame([], Usage(reply));
        }
        yield return "data: [DONE]\n\n";
    }

    private async Task EmbeddingsAsync(HttpContext context)
    {
        var request = (await JsonNode.ParseAsync(context.Request.Body))!.AsObject();
        if (Replies.TryDequeue(out var reply) && reply.Status != 200)
        {
            context.Response.StatusCode = reply.Status;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(reply.ErrorBody ?? "{}");
            return;
        }
        var inputs = request["input"] is JsonArray array ? array.Select(n => n!.GetValue<string>()).ToList() : [request["input"]!.GetValue<string>()];
        var dimensions = request["dimensions"]?.GetValue<int>() ?? 4;
        var data = new JsonArray();
        for (var i = 0; i < inputs.Count; i++)
        {
            // Deterministic vectors derived from the text, so tests can tell inputs apart.
            var vector = new JsonArray(Enumerable.Range(0, dimensions).Select(d => (JsonNode)JsonValue.Create((float)((inputs[i].Length + d) % 7) / 7f)!).ToArray());
            data.Add(new JsonObject { ["object"] = "embedding", ["index"] = i, ["embedding"] = vector });
        }
        await context.Response.WriteAsJsonAsync(new JsonObject
        {
            ["object"] = "list",
            ["data"] = data,
            ["model"] = "text-embedding-3-small",
            ["usage"] = new JsonObject { ["prompt_tokens"] = inputs.Sum(s => s.Length), ["total_tokens"] = inputs.Sum(s => s.Length) },
        });
    }

    private static string LastUserText(JsonObject request)
    {
        var last = request["messages"]!.AsArray().LastOrDefault(m => m!["role"]!.GetValue<string>() == "user");
        return last?["content"] switch
        {
            JsonValue value => value.GetValue<string>(),
            JsonArray parts => string.Concat(parts.Where(p => p!["type"]!.GetValue<string>() == "text").Select(p => p!["text"]!.GetValue<string>())),
            _ => "",
        };
    }
}
