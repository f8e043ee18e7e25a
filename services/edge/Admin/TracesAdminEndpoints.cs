using System.Globalization;
using System.Text.Json;
using Gateway.Common.Errors;
using Gateway.Contracts.Traces.V1;
using Gateway.Edge.Http;
using Gateway.Traces.Storage;
using Google.Protobuf;

namespace Gateway.Edge.Admin;

// /admin/v1/traces: the trace list (filters, keyset paging), one trace by id, and the aggregates the dashboard
// draws (spend and requests over time by team or model; latency percentiles and error rate by group).
public static class TracesAdminEndpoints
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true).WithFormatDefaultValues(true));
    private static readonly long MaxUnixMilliseconds = DateTimeOffset.MaxValue.ToUnixTimeMilliseconds();

    public static IEndpointRouteBuilder MapTracesAdmin(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/admin/v1/traces").RequireAdmin();
        group.MapGet("", ListAsync);
        group.MapGet("/{requestId}", GetAsync);
        group.MapGet("/stats/series", SeriesAsync);
        group.MapGet("/stats/latency", LatencyAsync);
        return endpoints;
    }

    private static async Task ListAsync(HttpContext context, ITraceStore store)
    {
        if (await FilterAsync(context) is not { } filter)
        {
            return;
        }
        TracePage page;
        try
        {
            page = await store.QueryAsync(filter, context.RequestAborted);
        }
        catch (FormatException e)
        {
            await BadRequestAsync(context, e.Message, "cursor");
            return;
        }
        await WriteAsync(context, w =>
        {
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var trace in page.Traces)
            {
                w.WriteRawValue(Formatter.Format(trace), skipInputValidation: true);
            }
            w.WriteEndArray();
            if (page.NextCursor is null)
            {
                w.WriteNull("next_cursor");
            }
            else
            {
                w.WriteString("next_cursor", page.NextCursor);
            }
        });
    }

    private static async Task GetAsync(HttpContext context, ITraceStore store, string requestId)
    {
        if (await store.GetAsync(requestId, context.RequestAborted) is not { } trace)
        {
            await ErrorWriter.WriteAsync(context, new GatewayException(ErrorKind.NotFound, $"No trace with request id '{Truncate(requestId)}'.", "request_id", "trace_not_found"), ErrorShape.OpenAi);
            return;
        }
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(Formatter.Format(trace), context.RequestAborted);
    }

    private static async Task SeriesAsync(HttpContext context, ITraceStore store)
    {
        if (await FilterAsync(context) is not { } filter || await GroupAsync(context, TraceGroup.Team) is not { } group)
        {
            return;
        }
        var bucketText = context.Request.Query["bucket"].ToString();
        var bucket = 3600;
        if (bucketText.Length > 0 && (!int.TryParse(bucketText, NumberStyles.None, CultureInfo.InvariantCulture, out bucket) || bucket is < 60 or > 31 * 86400))
        {
            await BadRequestAsync(context, "bucket must be a number of seconds between 60 and 2678400 (default 3600).", "bucket");
            return;
        }
        var points = await store.SeriesAsync(filter, group, TimeSpan.FromSeconds(bucket), context.RequestAborted);
        await WriteAsync(context, w =>
        {
            w.WriteString("group_by", TraceStoreNames.GroupColumn(group));
            w.WriteNumber("bucket_seconds", bucket);
            w.WriteStartArray("data");
            foreach (var p in points)
            {
                w.WriteStartObject();
                w.WriteString("bucket", p.Bucket.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture));
                w.WriteString("group", p.Group);
                w.WriteNumber("requests", p.Requests);
                w.WriteNumber("errors", p.Errors);
                w.WriteNumber("input_tokens", p.InputTokens);
                w.WriteNumber("output_tokens", p.OutputTokens);
                w.WriteNumber("cost_usd", Math.Round(p.CostUsd, 9));
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    private static async Task LatencyAsync(HttpContext context, ITraceStore store)
    {
        if (await FilterAsync(context) is not { } filter || await GroupAsync(context, TraceGroup.Model) is not { } group)
        {
            return;
        }
        var rows = await store.LatencyAsync(filter, group, context.RequestAborted);
        await WriteAsync(context, w =>
        {
            w.WriteString("group_by", TraceStoreNames.GroupColumn(group));
            w.WriteStartArray("data");
            foreach (var r in rows)
            {
                w.WriteStartObject();
                w.WriteString("group", r.Group);
                w.WriteNumber("requests", r.Requests);
                w.WriteNumber("errors", r.Errors);
                w.WriteNumber("error_rate", Math.Round(r.ErrorRate, 6));
                w.WriteNumber("p50_ms", Math.Round(r.P50Ms, 3));
                w.WriteNumber("p95_ms", Math.Round(r.P95Ms, 3));
                w.WriteNumber("overhead_p50_ms", Math.Round(r.OverheadP50Ms, 3));
                w.WriteNumber("cost_usd", Math.Round(r.CostUsd, 9));
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    // Query string -> filter; answers 400 (OpenAI shape, naming the parameter) and returns null when invalid.
    private static async Task<TraceFilter?> FilterAsync(HttpContext context)
    {
        var query = context.Request.Query;
        string? Text(string name) => query[name].ToString() is { Length: > 0 } value ? value : null;
        DateTimeOffset? from = null, to = null;
        int? promptVersion = null;
        var limit = 50;
        foreach (var (name, set) in new (string, Action<DateTimeOffset>)[] { ("from", v => from = v), ("to", v => to = v) })
        {
            if (Text(name) is { } value)
            {
                // Unix milliseconds only within DateTimeOffset's range (years 1 to 9999); beyond it is no time.
                if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) && ms <= MaxUnixMilliseconds)
                {
                    set(DateTimeOffset.FromUnixTimeMilliseconds(ms));
                }
                else if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
                {
                    set(at);
                }
                else
                {
                    await BadRequestAsync(context, $"{name} must be an ISO 8601 time (2026-11-27T10:00:00Z) or Unix milliseconds.", name);
                    return null;
                }
            }
        }
        if (Text("prompt_version") is { } version)
        {
            if (!int.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out var v))
            {
                await BadRequestAsync(context, "prompt_version must be a positive whole number.", "prompt_version");
                return null;
            }
            promptVersion = v;
        }
        if (Text("limit") is { } limitText && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > TraceFilter.MaxLimit))
        {
            await BadRequestAsync(context, $"limit must be between 1 and {TraceFilter.MaxLimit}.", "limit");
            return null;
        }
        var status = Text("status");
        if (status is not null and not ("ok" or "error" or "cancelled"))
        {
            await BadRequestAsync(context, "status must be ok, error or cancelled.", "status");
            return null;
        }
        return new TraceFilter
        {
            From = from,
            To = to,
            Team = Text("team"),
            Project = Text("project"),
            User = Text("user"),
            Model = Text("model"),
            Provider = Text("provider"),
            Status = status,
            ErrorClass = Text("error_class"),
            PromptName = Text("prompt"),
            PromptVersion = promptVersion,
            PromptLabel = Text("prompt_label"),
            Experiment = Text("experiment"),
            ExperimentArm = Text("arm"),
            Limit = limit,
            Cursor = Text("cursor"),
        };
    }

    private static async Task<TraceGroup?> GroupAsync(HttpContext context, TraceGroup fallback)
    {
        var value = context.Request.Query["group_by"].ToString();
        TraceGroup? group = value switch
        {
            "" => fallback,
            "team" => TraceGroup.Team,
            "project" => TraceGroup.Project,
            "model" => TraceGroup.Model,
            "provider" => TraceGroup.Provider,
            _ => null,
        };
        if (group is null)
        {
            await BadRequestAsync(context, "group_by must be team, project, model or provider.", "group_by");
        }
        return group;
    }

    private static Task BadRequestAsync(HttpContext context, string message, string param)
        => ErrorWriter.WriteAsync(context, GatewayException.BadRequest(message, param, "invalid_parameter"), ErrorShape.OpenAi);

    private static async Task WriteAsync(HttpContext context, Action<Utf8JsonWriter> body)
    {
        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.BodyWriter);
        writer.WriteStartObject();
        body(writer);
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted);
    }

    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64] + "…";
}
