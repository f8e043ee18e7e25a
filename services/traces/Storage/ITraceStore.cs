using Gateway.Common.Analytics;
using Gateway.Contracts.Traces.V1;

namespace Gateway.Traces.Storage;

// Where traces end up: ClickHouse in production, SQLite embedded. Both keep exactly one row per request id
// however often an event is written, and answer the same queries (the admin API and the dashboard).
public interface ITraceStore : IAsyncDisposable
{
    // Creates or upgrades the schema; safe to run at every start.
    Task MigrateAsync(CancellationToken cancellationToken);

    // How the ingestor batches for this store when traces.batch_size / flush_milliseconds are unset. ClickHouse
    // wants few large inserts (each one is a part to merge); see SqliteTraceStore for why SQLite wants small ones.
    TraceBatching Batching => new(500, 1000);

    // Writes one batch. `batchToken` is the same whenever the same batch is retried, so a store that can
    // deduplicate whole inserts (ClickHouse) drops a retry that had in fact succeeded.
    Task WriteAsync(IReadOnlyList<TraceEvent> batch, string batchToken, CancellationToken cancellationToken);

    // The same, with each trace's protobuf encoding already made (`encoded[i]` is batch[i]'s, from the journal),
    // for a store that keeps the event as those bytes instead of encoding it again.
    Task WriteAsync(IReadOnlyList<TraceEvent> batch, IReadOnlyList<byte[]>? encoded, string batchToken, CancellationToken cancellationToken)
        => WriteAsync(batch, batchToken, cancellationToken);

    // Which of these request ids are stored already: consulted before replaying a killed process's journal,
    // whose traces may have been written in batches that are not the ones replayed. A store whose writes are
    // upserts by request id (SQLite) needs no answer.
    Task<IReadOnlySet<string>> ExistingAsync(IReadOnlyList<string> requestIds, CancellationToken cancellationToken)
        => Task.FromResult<IReadOnlySet<string>>(new HashSet<string>());

    // The trace with its latest feedback attached (TraceEvent.feedback), or null.
    Task<TraceEvent?> GetAsync(string requestId, CancellationToken cancellationToken);

    // Feedback on a request (POST /v1/feedback); a later one for the same request id replaces the earlier.
    Task WriteFeedbackAsync(Feedback feedback, CancellationToken cancellationToken);

    // Per arm of a prompt experiment: requests, errors, latency, cost, tokens and feedback scores.
    Task<IReadOnlyList<ArmSummary>> ArmsAsync(string experiment, CancellationToken cancellationToken);

    // Newest first, without bodies; `TracePage.NextCursor` continues after the last row.
    Task<TracePage> QueryAsync(TraceFilter filter, CancellationToken cancellationToken);

    // Requests, errors, tokens and spend per time bucket and group (team, project, model or provider).
    Task<IReadOnlyList<SeriesPoint>> SeriesAsync(TraceFilter filter, TraceGroup groupBy, TimeSpan bucket, CancellationToken cancellationToken);

    // Latency percentiles and error rate per group over the filtered range.
    Task<IReadOnlyList<LatencyRow>> LatencyAsync(TraceFilter filter, TraceGroup groupBy, CancellationToken cancellationToken);

    // Rows stored for these request ids (used to prove exactly-once delivery).
    Task<long> CountAsync(TraceFilter filter, CancellationToken cancellationToken);
}

// Rows per write, and the longest the first trace of a batch waits for the rest.
public readonly record struct TraceBatching(int Rows, int FlushMilliseconds);

public enum TraceGroup
{
    Team,
    Project,
    Model,
    Provider,
}

public sealed record TraceFilter
{
    public const int MaxLimit = 1000;

    public DateTimeOffset? From { get; init; }
    public DateTimeOffset? To { get; init; }
    public string? Team { get; init; }
    public string? Project { get; init; }
    public string? User { get; init; }
    // Matches the served or the requested model.
    public string? Model { get; init; }
    public string? Provider { get; init; }
    // ok, error or cancelled.
    public string? Status { get; init; }
    public string? ErrorClass { get; init; }
    public string? PromptName { get; init; }
    public int? PromptVersion { get; init; }
    public string? PromptLabel { get; init; }
    public string? Experiment { get; init; }
    public string? ExperimentArm { get; init; }
    public int Limit { get; init; } = 50;
    public string? Cursor { get; init; }

    public int EffectiveLimit => Math.Clamp(Limit, 1, MaxLimit);

    // The filter as terms both stores render in their own SQL dialect. Column is a fixed identifier (never
    // client text); "from", "to" (Unix ms) and "model" (served or requested) are rendered specially.
    public IEnumerable<(string Column, object Value)> Terms()
    {
        if (From is { } from)
        {
            yield return ("from", from.ToUnixTimeMilliseconds());
        }
        if (To is { } to)
        {
            yield return ("to", to.ToUnixTimeMilliseconds());
        }
        foreach (var (column, value) in new[] { ("team", Team), ("project", Project), ("user", User), ("model", Model), ("provider", Provider), ("status", Status), ("error_class", ErrorClass), ("prompt_name", PromptName), ("prompt_label", PromptLabel), ("experiment", Experiment), ("experiment_arm", ExperimentArm) })
        {
            if (value is { Length: > 0 })
            {
                yield return (column, value);
            }
        }
        if (PromptVersion is { } version)
        {
            yield return ("prompt_version", version);
        }
    }
}

// A score counts as positive feedback at or above this (scores run from 0 to 1).
public static class FeedbackScores
{
    public const double Positive = 0.5;
}

public sealed record TracePage(IReadOnlyList<TraceEvent> Traces, string? NextCursor);

public sealed record SeriesPoint(DateTimeOffset Bucket, string Group, long Requests, long Errors, long InputTokens, long OutputTokens, double CostUsd);

public sealed record LatencyRow(string Group, long Requests, long Errors, double ErrorRate, double P50Ms, double P95Ms, double OverheadP50Ms, double CostUsd);

// Keyset paging: the cursor is the (started_at, request_id) of the last row returned.
public readonly record struct TraceCursor(long StartedAtMs, string RequestId)
{
    public string Encode() => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{StartedAtMs}:{RequestId}")).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static TraceCursor? Decode(string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return null;
        }
        try
        {
            var padded = token.Replace('-', '+').Replace('_', '/');
            padded += new string('=', (4 - padded.Length % 4) % 4);
            var text = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(padded));
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            return colon > 0 && long.TryParse(text.AsSpan(0, colon), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var ms)
                ? new TraceCursor(ms, text[(colon + 1)..])
                : throw new FormatException("The cursor is not one this API returned.");
        }
        catch (FormatException)
        {
            throw new FormatException("The cursor is not one this API returned.");
        }
    }
}

public static class TraceStoreNames
{
    public static string GroupColumn(TraceGroup group) => group switch
    {
        TraceGroup.Team => "team",
        TraceGroup.Project => "project",
        TraceGroup.Provider => "provider",
        _ => "model",
    };

    public static string ModelOf(TraceEvent trace) => trace.ServedModel.Length > 0 ? trace.ServedModel : trace.RequestedModel;

    public static long StartedMs(TraceEvent trace) => trace.StartedAt?.ToDateTimeOffset().ToUnixTimeMilliseconds() ?? 0;
}
