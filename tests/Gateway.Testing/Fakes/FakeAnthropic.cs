using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Gateway.Testing.Fakes;

// An Anthropic Messages API server speaking the real wire format: x-api-key and anthropic-version checked
// as Anthropic does, answers as content blocks, streams as named SSE events (message_start, ping,
// content_block_start/delta/stop, message_delta, message_stop). Replies come from the queue, else it echoes
// the last user text.
public sealed class FakeAnthropic : FakeUpstream
{
    public const string Signature = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxpX8nN3+fakesig==";

    public ConcurrentQueue<FakeReply> Replies { get; } = new();

    public string ModelReported { get; set; } = "claude-sonnet-4-20250514";

    // When set, a request with another x-api-key gets Anthropic's 401.
    public string? ApiKey { get; set; }

    public static async Task<FakeAnthropic> StartNewAsync(string? apiKey = null)
    {
        var fake = new FakeAnthropic { ApiKey = apiKey };
        await fake.StartAsync();
        return fake;
    }

    protected override void Map(WebApplication app) => app.MapPost("/v1/messages", MessagesAsync);

    private async Task MessagesAsync(HttpContext context)
    {
        if (string.IsNullOrEmpty(context.Request.Headers["anthropic-version"]))
        {
            await ErrorAsync(context.Response, 400, "invalid_request_error", "anthropic-version: header is required");
            return;
        }
        if (ApiKey is not null && context.Request.Headers["x-api-key"] != ApiKey)
        {
            await ErrorAsync(context.Response, 401, "authentication_error", "invalid x-api-key");
            return;
        }
        var request = (await JsonNode.ParseAsync(context.Request.Body))!.AsObject();
        await AnswerAsync(context, request);
    }

    // Answers a parsed Messages request; the fake Vertex AI serves Claude through this too.
    internal async Task AnswerAsync(HttpContext context, JsonObject request)
    {
        var reply = Replies.TryDequeue(out var next) ? next : FakeReply.Say("Echo: " + LastUserText(request));
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
        if (request["stream"]?.GetValue<bool>() != true)
        {
            await context.Response.WriteAsJsonAsync(Message(reply));
            return;
        }
        await WriteSseAsync(context.Response, StreamFrames(reply), context.RequestAborted);
        if (reply.DropAfterChunks is not null)
        {
            context.Abort();
        }
    }

    private static async Task ErrorAsync(HttpResponse response, int status, string type, string message)
    {
        response.StatusCode = status;
        response.ContentType = "application/json";
        await response.WriteAsync(new JsonObject
        {
            ["type"] = "error",
            ["error"] = new JsonObject { ["type"] = type, ["message"] = message },
        }.ToJsonString());
    }

    private JsonObject Message(FakeReply reply)
    {
        var content = new JsonArray();
        if (reply.Thinking is { } thinking)
        {
            content.Add(new JsonObject { ["type"] = "thinking", ["thinking"] = thinking, ["signature"] = Signature });
        }
        if (reply.Text is { } text)
        {
            content.Add(new JsonObject { ["type"] = "text", ["text"] = text });
        }
        foreach (var call in reply.ToolCalls)
        {
            content.Add(new JsonObject { ["type"] = "tool_use", ["id"] = call.Id, ["name"] = call.Name, ["input"] = JsonNode.Parse(call.ArgumentsJson) });
        }
        return new JsonObject
        {
            ["id"] = "msg_01FakeAnthropic123",
            ["type"] = "message",
            ["role"] = "assistant",
            ["model"] = ModelReported,
            ["content"] = content,
            ["stop_reason"] = StopReason(reply),
            ["stop_sequence"] = null,
            ["usage"] = new JsonObject
            {
                ["input_tokens"] = reply.InputTokens,
                ["cache_creation_input_tokens"] = 0,
                ["cache_read_input_tokens"] = 0,
                ["output_tokens"] = reply.OutputTokens,
            },
        };
    }

    private static string StopReason(FakeReply reply) => reply.ToolCalls.Count > 0 ? "tool_use" : "end_turn";

    private IEnumerable<string> StreamFrames(FakeReply reply)
    {
        static string Frame(string name, JsonObject data) => $"event: {name}\ndata: {data.ToJsonString()}\n\n";
        static JsonObject Delta(int index, JsonObject delta) => new() { ["type"] = "content_block_delta", ["index"] = index, ["delta"] = delta };
        static JsonObject Stop(int index) => new() { ["type"] = "content_block_stop", ["index"] = index };

        yield return Frame("message_start", new JsonObject
        {
            ["type"] = "message_start",
            ["message"] = new JsonObject
            {
                ["id"] = "msg_01FakeAnthropic123",
                ["type"] = "message",
                ["role"] = "assistant",
                ["model"] = ModelReported,
                ["content"] = new JsonArray(),
                ["stop_reason"] = null,
                ["stop_sequence"] = null,
                ["usage"] = new JsonObject
                {
                    ["input_tokens"] = reply.InputTokens,
                    ["cache_creation_input_tokens"] = 0,
                    ["cache_read_input_tokens"] = 0,
                    ["output_tokens"] = 1,
                },
            },
        });
        yield return Frame("ping", new JsonObject { ["type"] = "ping" });
        var index = 0;
        if (reply.Thinking is { } thinking)
        {
            yield return Frame("content_block_start", new JsonObject
            {
                ["type"] = "content_block_start",
                ["index"] = index,
                ["content_block"] = new JsonObject { ["type"] = "thinking", ["thinking"] = "", ["signature"] = "" },
            });
            foreach (var piece in FakeReply.Pieces(thinking, 5))
            {
                yield return Frame("content_block_delta", Delta(index, new JsonObject { ["type"] = "thinking_delta", ["thinking"] = piece }));
            }
            yield return Frame("content_block_delta", Delta(index, new JsonObject { ["type"] = "signature_delta", ["signature"] = Signature }));
            yield return Frame("content_block_stop", Stop(index));
            index++;
        }
        if (reply.Text is { } text)
        {
            yield return Frame("content_block_start", new JsonObject
            {
                ["type"] = "content_block_start",
                ["index"] = index,
                ["content_block"] = new JsonObject { ["type"] = "text", ["text"] = "" },
            });
            var sent = 0;
            // Small pieces, never splitting a surrogate pair (JSON cannot carry half of one).
            foreach (var piece in FakeReply.Pieces(text))
            {
                if (reply.DropAfterChunks is { } drop && sent++ >= drop)
                {
                    yield break;
                }
                yield return Frame("content_block_delta", Delta(index, new JsonObject { ["type"] = "text_delta", ["text"] = piece }));
            }
            yield return Frame("content_block_stop", Stop(index));
            index++;
        }
        if (reply.StreamError is { } error)
        {
            yield return Frame("error", JsonNode.Parse(error)!.AsObject());
            yield break;
        }
        foreach (var call in reply.ToolCalls)
        {
            yield return Frame("content_block_start", new JsonObject
            {
                ["type"] = "content_block_start",
                ["index"] = index,
                ["content_block"] = new JsonObject { ["type"] = "tool_use", ["id"] = call.Id, ["name"] = call.Name, ["input"] = new JsonObject() },
            });
            var args = call.ArgumentsJson;
            var half = args.Length / 2;
            foreach (var part in new[] { args[..half], args[half..] })
            {
                yield return Frame("content_block_delta", Delta(index, new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = part }));
            }
            yield return Frame("content_block_stop", Stop(index));
            index++;
        }
        yield return Frame("message_delta", new JsonObject
        {
            ["type"] = "message_delta",
            ["delta"] = new JsonObject { ["stop_reason"] = StopReason(reply), ["stop_sequence"] = null },
            ["usage"] = new JsonObject { ["output_tokens"] = reply.OutputTokens },
        });
        yield return Frame("message_stop", new JsonObject { ["type"] = "message_stop" });
    }

    private static string LastUserText(JsonObject request)
    {
        var last = request["messages"]!.AsArray().LastOrDefault(m => m!["role"]!.GetValue<string>() == "user");
        return last?["content"] switch
        {
            JsonValue value => value.GetValue<string>(),
            JsonArray blocks => string.Concat(blocks.Where(b => b!["type"]!.GetValue<string>() == "text").Select(b => b!["text"]!.GetValue<string>())),
            _ => "",
        };
    }
}
