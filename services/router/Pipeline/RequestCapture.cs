using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Gateway.Contracts.Guard.V1;
using Gateway.Contracts.Inference.V1;
using Gateway.Contracts.Traces.V1;
using Gateway.Router.Providers.OpenAI;
using Google.Protobuf;

namespace Gateway.Router.Pipeline;

// What a trace keeps of the bodies, by the capture policy of the caller's key or team (traces.capture):
//   full     - the request as rendered (before the guard) and the response the client received;
//   redacted - the request as the guard rewrote it and the response as the output guard let it through, before
//              pseudonyms were restored (streams too). When no guard policy inspected the call (none assigned,
//              or the guard was unavailable and fail-open) there is nothing redacted to keep, so no body is
//              kept; a request the guard blocked keeps no request body either;
//   metadata - no bodies at all (zero data retention).
// Streamed responses are assembled into the same chat.completion form as non-streamed ones. Embeddings keep the
// request's inputs and, for the response, a summary (count, dimensions, usage), never the vectors.
internal static class RequestCapture
{
    public const string Full = "full";
    public const string Redacted = "redacted";
    public const string Metadata = "metadata";

    // Bodies are for debugging, not archiving: each is cut at this many characters.
    internal const int MaxBodyChars = 64 * 1024;

    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(false));

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    // Whether a guard policy really inspected the input (not "none", not the fail-open "unavailable").
    public static bool Inspects(Verdict verdict) => verdict.Policy is { Length: > 0 } policy && policy is not ("none" or "unavailable");

    public static void Request(RequestContext context, ChatRequest rendered, Verdict verdict)
        => context.Trace.RequestBody = RequestBody(context, rendered, verdict.RewrittenRequest, verdict,
            static (w, r) => OpenAiChatCodec.WriteRequest(w, r, r.Model, stream: false));

    // Embeddings input is guarded as one user message per input; `guarded` maps the guard's rewrite back.
    public static void Embeddings(RequestContext context, EmbedRequest request, Verdict verdict, Func<EmbedRequest, ChatRequest, EmbedRequest> guarded)
        => context.Trace.RequestBody = RequestBody(context, request, verdict.RewrittenRequest is { } rewritten ? guarded(request, rewritten) : null, verdict,
            static (w, r) => OpenAiEmbeddingsCodec.WriteRequest(w, r, r.Model));

    private static string RequestBody<T>(RequestContext context, T rendered, T? rewritten, Verdict verdict, Action<Utf8JsonWriter, T> write) where T : class, IMessage
    {
        context.Inspected = Inspects(verdict);
        return context.Trace.Capture switch
        {
            Full => Json(rendered, write),
            Redacted when context.Inspected && verdict.Action != Contracts.Guard.V1.Action.Block => Json(rewritten ?? rendered, write),
            _ => "",
        };
    }

    // The response after the output guard, before pseudonyms are restored (the redacted view).
    public static void GuardedResponse(RequestContext context, ChatResponse guarded)
    {
        if (context.Trace.Capture == Redacted && context.Inspected)
        {
            context.Trace.ResponseBody = Json(guarded, OpenAiChatCodec.WriteResponse);
        }
    }

    // The response exactly as the client receives it (the full view).
    public static void ClientResponse(RequestContext context, ChatResponse toClient)
    {
        if (context.Trace.Capture == Full)
        {
            context.Trace.ResponseBody = Json(toClient, OpenAiChatCodec.WriteResponse);
        }
    }

    // What a stream's trace keeps: null when the policy keeps no response body.
    public static StreamCapture? Stream(RequestContext context)
    {
        return KeepsResponse(context) ? context.Stream = new StreamCapture(redacted: context.Trace.Capture == Redacted) : null;
    }

    private static bool KeepsResponse(RequestContext context)
        => context.Trace.Capture == Full || (context.Trace.Capture == Redacted && context.Inspected);

    // Embeddings responses are summarised: vectors are large, and derived from the (captured) input.
    public static void EmbeddingsResponse(RequestContext context, EmbedResponse response)
    {
        if (KeepsResponse(context))
        {
            context.Trace.ResponseBody = Json(response, WriteEmbeddingsSummary);
        }
    }

    private static void WriteEmbeddingsSummary(Utf8JsonWriter w, EmbedResponse response)
    {
        w.WriteStartObject();
        w.WriteString("object", "list");
        w.WriteString("model", response.Model);
        w.WriteNumber("count", response.Data.Count);
        w.WriteNumber("dimensions", response.Data.Count > 0 ? response.Data[0].Vector.Count : 0);
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", response.Usage?.InputTokens ?? 0);
        w.WriteNumber("total_tokens", response.Usage?.InputTokens ?? 0);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    public static void Finish(RequestContext context)
    {
        var trace = context.Trace;
        if (context.Stream is { HasContent: true } stream && trace.ResponseBody.Length == 0)
        {
            trace.ResponseBody = Json(stream.ToResponse(), OpenAiChatCodec.WriteResponse);
        }
        if (trace.Metadata.TryGetValue("tags", out var tags))
        {
            foreach (var tag in tags.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Take(32))
            {
                trace.Tags.Add(tag);
            }
        }
    }

    // Bodies are kept in the OpenAI wire form, written by the same codec that talks to providers: a tenth of
    // the cost of reflecting over the protobuf message. Content OpenAI's form cannot carry falls back to the
    // protobuf JSON of the neutral message, so nothing is lost from a trace.
    private static string Json<T>(T message, Action<Utf8JsonWriter, T> write) where T : IMessage
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(4096);
        buffer.ResetWrittenCount();
        try
        {
            using (var writer = new Utf8JsonWriter(buffer))
            {
                write(writer, message);
            }
            return Cap(Encoding.UTF8.GetString(buffer.WrittenSpan));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            return Cap(Formatter.Format(message));
        }
        finally
        {
            if (buffer.Capacity > 256 * 1024)
            {
                t_buffer = null; // an outsized body should not pin its buffer to the thread
            }
        }
    }

    private static string Cap(string body) => body.Length <= MaxBodyChars ? body : body[..MaxBodyChars] + "…[truncated]";
}

// Spans for the request and, reconstructed from the measured latencies, one per layer and per attempt, with
// the OpenTelemetry GenAI attributes. Never carries bodies, prompts or keys.
internal static class RequestSpans
{
    public static Activity? Start(RouterTelemetry telemetry, string api)
        => telemetry.Source.StartActivity(api == "embeddings" ? "embeddings" : "chat", ActivityKind.Internal);

    public static void Finish(RouterTelemetry telemetry, RequestContext context)
    {
        if (context.Activity is not { } activity)
        {
            return;
        }
        var trace = context.Trace;
        var operation = trace.Api == "embeddings" ? "embeddings" : "chat";
        activity.DisplayName = $"{operation} {trace.RequestedModel}";
        activity.SetTag("gen_ai.operation.name", operation);
        activity.SetTag("gen_ai.request.model", trace.RequestedModel);
        activity.SetTag("gen_ai.response.model", trace.UpstreamModel);
        activity.SetTag("gen_ai.provider.name", trace.Provider);
        activity.SetTag("gen_ai.usage.input_tokens", trace.Usage?.InputTokens ?? 0);
        activity.SetTag("gen_ai.usage.output_tokens", trace.Usage?.OutputTokens ?? 0);
        activity.SetTag("gateway.request_id", trace.RequestId);
        activity.SetTag("gateway.team", trace.Principal?.Team ?? "");
        activity.SetTag("gateway.project", trace.Principal?.Project ?? "");
        activity.SetTag("gateway.cost_usd", trace.CostUsd);
        activity.SetTag("gateway.attempts", trace.Attempts.Count);
        activity.SetTag("gateway.stream", trace.Stream);
        if (trace.Status != "ok")
        {
            activity.SetStatus(ActivityStatusCode.Error, trace.ErrorClass);
            activity.SetTag("error.type", trace.ErrorClass);
        }
        var start = activity.StartTimeUtc;
        var l = trace.Latencies;
        var offset = 0.0;
        void Layer(string name, double ms)
        {
            if (ms <= 0)
            {
                return;
            }
            using var span = telemetry.Source.StartActivity($"gateway.{name}", ActivityKind.Internal, activity.Context, startTime: start.AddMilliseconds(offset));
            span?.SetEndTime(start.AddMilliseconds(offset + ms));
            offset += ms;
        }
        Layer("auth", l.AuthMs);
        Layer("prompt", l.PromptMs);
        Layer("guard.input", l.GuardInMs);
        Layer("budget", l.BudgetMs);
        Layer("routing", l.RoutingMs);
        foreach (var attempt in trace.Attempts)
        {
            using var span = telemetry.Source.StartActivity($"{operation} {attempt.UpstreamModel}", ActivityKind.Client, activity.Context, startTime: start.AddMilliseconds(offset));
            if (span is not null)
            {
                span.SetTag("gen_ai.operation.name", operation);
                span.SetTag("gen_ai.provider.name", attempt.Provider);
                span.SetTag("gen_ai.request.model", attempt.UpstreamModel);
                span.SetTag("http.response.status_code", attempt.HttpStatus);
                if (attempt.ErrorClass.Length > 0)
                {
                    span.SetStatus(ActivityStatusCode.Error, attempt.ErrorClass);
                    span.SetTag("error.type", attempt.ErrorClass);
                }
                span.SetEndTime(start.AddMilliseconds(offset + attempt.LatencyMs));
            }
            offset += attempt.LatencyMs;
        }
        Layer("guard.output", l.GuardOutMs);
        activity.Stop();
    }
}
