using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Gateway.Router.Providers.Bedrock;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Gateway.Testing.Fakes;

// Amazon Bedrock's runtime API speaking the real wire format: POST /model/{modelId}/converse answers Converse
// JSON, /converse-stream answers binary application/vnd.amazon.eventstream frames (real CRCs, each frame
// written in two pieces so readers must reassemble). Every request's SigV4 Authorization header is verified
// by recomputing the signature from the request exactly as it arrived (raw path, headers, body), with the
// 403 UnrecognizedClientException / InvalidSignatureException that Bedrock answers. Errors carry
// x-amzn-ErrorType. Replies come from the queue, else it echoes the last user text.
public sealed class FakeBedrock : FakeUpstream
{
    public const string ThrottledType = "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/";

    public ConcurrentQueue<FakeReply> Replies { get; } = new();

    // Access key id -> (secret, session token the key must travel with, or null).
    public Dictionary<string, (string Secret, string? SessionToken)> Credentials { get; } = new(StringComparer.Ordinal);

    public string Region { get; set; } = "us-east-1";

    // A Bedrock API key accepted as `Authorization: Bearer`, when set.
    public string? ApiKey { get; set; }

    // The model ids requests named, decoded from the path.
    public ConcurrentQueue<string> Models { get; } = new();

    // Request targets exactly as they arrived (still percent-encoded).
    public ConcurrentQueue<string> RawTargets { get; } = new();

    // The clock X-Amz-Date is checked against (AWS allows 15 minutes of skew).
    public TimeProvider Clock { get; set; } = TimeProvider.System;

    public static async Task<FakeBedrock> StartNewAsync(string accessKeyId, string secret, string? sessionToken = null)
    {
        var fake = new FakeBedrock();
        fake.Credentials[accessKeyId] = (secret, sessionToken);
        await fake.StartAsync();
        return fake;
    }

    public static FakeReply Throttled() => new()
    {
        Status = 429,
        ErrorBody = """{"message":"Too many requests, please wait before trying again."}""",
        Headers = new Dictionary<string, string> { ["x-amzn-ErrorType"] = ThrottledType },
    };

    protected override void Map(WebApplication app)
    {
        app.MapPost("/model/{modelId}/converse", (HttpContext context, string modelId) => HandleAsync(context, modelId, stream: false));
        app.MapPost("/model/{modelId}/converse-stream", (HttpContext context, string modelId) => HandleAsync(context, modelId, stream: true));
    }

    private async Task HandleAsync(HttpContext context, string modelId, bool stream)
    {
        context.Request.EnableBuffering();
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        var body = buffer.ToArray();
        RawTargets.Enqueue(context.Features.Get<IHttpRequestFeature>()!.RawTarget);
        if (Authenticate(context, body) is { } failure)
        {
            await ErrorAsync(context.Response, 403, failure.Type, failure.Message);
            return;
        }
        Models.Enqueue(modelId);
        JsonObject request;
        try
        {
            request = JsonNode.Parse(body)!.AsObject();
        }
        catch (System.Text.Json.JsonException)
        {
            await ErrorAsync(context.Response, 400, "ValidationException", "Malformed input request, please reformat your input and try again.");
            return;
        }
        if (request["messages"] is not JsonArray { Count: > 0 })
        {
            await ErrorAsync(context.Response, 400, "ValidationException", "A conversation must start with a user message. Try again with a conversation that starts with a user message.");
            return;
        }
        var reply = Replies.TryDequeue(out var next) ? next : FakeReply.Say("Echo: " + LastUserText(request));
        foreach (var (name, value) in reply.Headers)
        {
            context.Response.Headers[name] = value;
        }
        context.Response.Headers["x-amzn-RequestId"] = "5f3c1a2b-fake-4bed-8ock-000000000001";
        if (reply.Status != 200)
        {
            context.Response.StatusCode = reply.Status;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(reply.ErrorBody ?? "{}");
            return;
        }
        if (!stream)
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(Converse(reply).ToJsonString());
            return;
        }
        context.Response.ContentType = "application/vnd.amazon.eventstream";
        foreach (var frame in StreamFrames(reply))
        {
            // Split each frame inside its prelude: the reader must not assume one read is one message.
            var cut = Math.Min(7, frame.Length);
            await context.Response.Body.WriteAsync(frame.AsMemory(0, cut), context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            await context.Response.Body.WriteAsync(frame.AsMemory(cut), context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
        if (reply.DropAfterChunks is not null)
        {
            context.Abort();
        }
    }

    // Null when the request is signed correctly; else the exception Bedrock would answer with.
    private (string Type, string Message)? Authenticate(HttpContext context, byte[] body)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        if (ApiKey is not null && authorization == "Bearer " + ApiKey)
        {
            return null;
        }
        const string prefix = SigV4Signer.Algorithm + " ";
        if (!authorization.StartsWith(prefix, StringComparison.Ordinal))
        {
            return ("MissingAuthenticationTokenException", "Missing Authentication Token");
        }
        var fields = authorization[prefix.Length..].Split(',', StringSplitOptions.TrimEntries)
            .Select(f => f.Split('=', 2)).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1], StringComparer.Ordinal);
        if (!fields.TryGetValue("Credential", out var credential) || !fields.TryGetValue("SignedHeaders", out var signedHeaders) || !fields.TryGetValue("Signature", out var signature))
        {
            return ("IncompleteSignatureException", "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature'.");
        }
        var scope = credential.Split('/');
        if (scope.Length != 5 || !Credentials.TryGetValue(scope[0], out var known))
        {
            return ("UnrecognizedClientException", "The security token included in the request is invalid.");
        }
        var amzDate = context.Request.Headers["x-amz-date"].ToString();
        if (!DateTimeOffset.TryParseExact(amzDate, "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var signedAt)
            || Math.Abs((signedAt - Clock.GetUtcNow()).TotalMinutes) > 15)
        {
            return ("InvalidSignatureException", "Signature expired or X-Amz-Date missing.");
        }
        if (scope[1] != amzDate[..8] || scope[2] != Region || scope[3] != BedrockProvider.SigningService || scope[4] != "aws4_request")
        {
            return ("InvalidSignatureException", $"Credential should be scoped to a valid region and service ({Region}/bedrock).");
        }
        var names = signedHeaders.Split(';');
        if (!names.Contains("host") || !names.Contains("x-amz-date"))
        {
            return ("InvalidSignatureException", "'Host' and 'X-Amz-Date' must be signed.");
        }
        if (known.SessionToken is not null && (context.Request.Headers["x-amz-security-token"] != known.SessionToken || !names.Contains("x-amz-security-token")))
        {
            return ("UnrecognizedClientException", "The security token included in the request is invalid.");
        }
        var target = context.Features.Get<IHttpRequestFeature>()!.RawTarget;
        var query = target.IndexOf('?');
        var headers = names.Select(n => (n, context.Request.Headers[n].ToString()));
        var (canonical, _) = SigV4Signer.CanonicalRequest(context.Request.Method, query < 0 ? target : target[..query], query < 0 ? "" : target[(query + 1)..], headers, SigV4Signer.HexSha256(body));
        var expected = SigV4Signer.Signature(known.Secret, amzDate, scope[2], scope[3], SigV4Signer.StringToSign(amzDate, string.Join('/', scope[1..]), canonical));
        return expected == signature ? null : ("InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.");
    }

    private static async Task ErrorAsync(HttpResponse response, int status, string type, string message)
    {
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.Headers["x-amzn-ErrorType"] = $"{type}:http://internal.amazon.com/coral/com.amazon.bedrock/";
        await response.WriteAsync(new JsonObject { ["message"] = message }.ToJsonString());
    }

    private static JsonObject Converse(FakeReply reply)
    {
        var content = new JsonArray();
        if (reply.Text is { } text)
        {
            content.Add(new JsonObject { ["text"] = text });
        }
        foreach (var call in reply.ToolCalls)
        {
            content.Add(new JsonObject { ["toolUse"] = new JsonObject { ["toolUseId"] = call.Id, ["name"] = call.Name, ["input"] = JsonNode.Parse(call.ArgumentsJson) } });
        }
        return new JsonObject
        {
            ["output"] = new JsonObject { ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = content } },
            ["stopReason"] = StopReason(reply),
            ["usage"] = Usage(reply),
            ["metrics"] = new JsonObject { ["latencyMs"] = 412 },
        };
    }

    private static string StopReason(FakeReply reply) => reply.ToolCalls.Count > 0 ? "tool_use" : "end_turn";

    private static JsonObject Usage(FakeReply reply) => new()
    {
        ["inputTokens"] = reply.InputTokens,
        ["outputTokens"] = reply.OutputTokens,
        ["totalTokens"] = reply.InputTokens + reply.OutputTokens,
    };

    private static IEnumerable<byte[]> StreamFrames(FakeReply reply)
    {
        // Bedrock pads event payloads with a "p" field of varying length (against length side channels).
        static byte[] Event(string type, JsonObject data)
        {
            data["p"] = "abcdefghijklmnopqrstuvwxyzABCDEF"[..(data.ToJsonString().Length % 32)];
            return EventStreamWriter.Event(type, data.ToJsonString());
        }

        yield return Event("messageStart", new JsonObject { ["role"] = "assistant" });
        var block = 0;
        if (reply.Text is { } text)
        {
            var sent = 0;
            foreach (var piece in FakeReply.Pieces(text, 4))
            {
                if (reply.DropAfterChunks is { } drop && sent++ >= drop)
                {
                    yield break;
                }
                yield return Event("contentBlockDelta", new JsonObject { ["contentBlockIndex"] = block, ["delta"] = new JsonObject { ["text"] = piece } });
            }
            if (reply.StreamError is { } exceptionType)
            {
                yield return EventStreamWriter.Exception(exceptionType, "Too many tokens, please wait before trying again.");
                yield break;
            }
            yield return Event("contentBlockStop", new JsonObject { ["contentBlockIndex"] = block++ });
        }
        foreach (var call in reply.ToolCalls)
        {
            yield return Event("contentBlockStart", new JsonObject
            {
                ["contentBlockIndex"] = block,
                ["start"] = new JsonObject { ["toolUse"] = new JsonObject { ["toolUseId"] = call.Id, ["name"] = call.Name } },
            });
            foreach (var piece in FakeReply.Pieces(call.ArgumentsJson, 6))
            {
                yield return Event("contentBlockDelta", new JsonObject { ["contentBlockIndex"] = block, ["delta"] = new JsonObject { ["toolUse"] = new JsonObject { ["input"] = piece } } });
            }
            yield return Event("contentBlockStop", new JsonObject { ["contentBlockIndex"] = block++ });
        }
        yield return Event("messageStop", new JsonObject { ["stopReason"] = StopReason(reply) });
        yield return Event("metadata", new JsonObject { ["usage"] = Usage(reply), ["metrics"] = new JsonObject { ["latencyMs"] = 412 } });
    }

    private static string LastUserText(JsonObject request)
    {
        var last = request["messages"]!.AsArray().LastOrDefault(m => m!["role"]?.GetValue<string>() == "user");
        return last is null ? "" : string.Concat(last["content"]!.AsArray().Select(c => c!["text"]?.GetValue<string>()));
    }
}
