using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ClickHouse.Driver;
using ClickHouse.Driver.ADO.Parameters;
using ClickHouse.Driver.ADO.Readers;
using Gateway.Common.Analytics;
using Gateway.Contracts.Traces.V1;
using Google.Protobuf;

namespace Gateway.Traces.Storage;

// The production trace store: ClickHouse through ClickHouse.Driver over HTTP. Rows go in as JSONEachRow
// batches with a per-batch insert_deduplication_token; the schema is the versioned migrations in
// deploy/clickhouse/, applied at start.
public sealed partial class ClickHouseTraceStore : ITraceStore, IMcpAuditStore
{
    private readonly ClickHouseClient _client;
    private readonly string _database;
    private readonly int _retentionDays;
    private readonly TimeProvider _time;

    private ClickHouseTraceStore(ClickHouseClient client, string database, int retentionDays, TimeProvider time)
    {
        _client = client;
        _database = database;
        _retentionDays = retentionDays;
        _time = time;
    }

    public string Database => _database;

    // clickhouse://user:pass@host:8123/db[?compression=false]
    public static ClickHouseTraceStore Open(string uri, int retentionDays, TimeProvider time)
    {
        var parsed = new Uri(uri);
        var database = parsed.AbsolutePath.Trim('/');
        if (database.Length == 0)
        {
            database = "default";
        }
        if (!IdentifierPattern().IsMatch(database))
        {
            throw new ArgumentException("storage.traces: the ClickHouse database name may use only letters, digits and '_'.");
        }
        var userInfo = parsed.UserInfo.Split(':', 2);
        var builder = new StringBuilder();
        builder.Append(CultureInfo.InvariantCulture, $"Host={parsed.Host};Port={(parsed.IsDefaultPort ? 8123 : parsed.Port)};Protocol=http;");
        builder.Append(CultureInfo.InvariantCulture, $"Username={Uri.UnescapeDataString(userInfo[0] is { Length: > 0 } user ? user : "default")};");
        if (userInfo.Length > 1)
        {
            builder.Append(CultureInfo.InvariantCulture, $"Password={Uri.UnescapeDataString(userInfo[1])};");
        }
        var compression = !parsed.Query.Contains("compression=false", StringComparison.OrdinalIgnoreCase);
        builder.Append(CultureInfo.InvariantCulture, $"Database=default;Compression={compression};Timeout=30");
        return new ClickHouseTraceStore(new ClickHouseClient(builder.ToString()), database, retentionDays, time);
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex IdentifierPattern();

    // ---- schema -------------------------------------------------------------------------------------

    public static IReadOnlyList<(int Version, string Name, string Sql)> Migrations()
    {
        var assembly = typeof(ClickHouseTraceStore).Assembly;
        var list = new List<(int, string, string)>();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith("clickhouse.", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var file = name["clickhouse.".Length..];
            var version = int.Parse(file.AsSpan(0, file.IndexOf('_', StringComparison.Ordinal)), CultureInfo.InvariantCulture);
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            list.Add((version, file, reader.ReadToEnd()));
        }
        return list;
    }

    // Statements end with ';' at the end of a line; '--' comment lines are dropped.
    public static IEnumerable<string> Statements(string sql)
    {
        var current = new StringBuilder();
        foreach (var line in sql.Split('\n'))
        {
            var trimmed = line.TrimEnd();
            if (trimmed.TrimStart().StartsWith("--", StringComparison.Ordinal))
            {
                continue;
            }
            if (trimmed.EndsWith(';'))
            {
                current.AppendLine(trimmed[..^1]);
                yield return current.ToString().Trim();
                current.Clear();
            }
            else
            {
                current.AppendLine(trimmed);
            }
        }
        if (current.ToString().Trim() is { Length: > 0 } rest)
        {
            yield return rest;
        }
    }

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await ExecuteAsync($"CREATE DATABASE IF NOT EXISTS {_database}", cancellationToken);
        await ExecuteAsync($"""
            CREATE TABLE IF NOT EXISTS {_database}.schema_migrations
            (version UInt32, name String, applied_at DateTime64(3, 'UTC'))
            ENGINE = MergeTree ORDER BY version
            """, cancellationToken);
        var applied = new HashSet<int>();
        using (var reader = await _client.ExecuteReaderAsync($"SELECT version FROM {_database}.schema_migrations", null, null, cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                applied.Add(Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture));
            }
        }
        foreach (var (version, name, sql) in Migrations())
        {
            if (applied.Contains(version))
            {
                continue;
            }
            foreach (var statement in Statements(sql.Replace("{database}", _database, StringComparison.Ordinal)))
            {
                await ExecuteAsync(statement, cancellationToken);
            }
            var parameters = new ClickHouseParameterCollection
            {
                new ClickHouseDbParameter { ParameterName = "v", Value = (uint)version },
                new ClickHouseDbParameter { ParameterName = "n", Value = name },
                new ClickHouseDbParameter { ParameterName = "at", Value = _time.GetUtcNow().UtcDateTime },
            };
            await _client.ExecuteNonQueryAsync($"INSERT INTO {_database}.schema_migrations VALUES ({{v:UInt32}}, {{n:String}}, {{at:DateTime64(3, 'UTC')}})", parameters, null, cancellationToken);
        }
        await ApplyRetentionAsync(cancellationToken);
    }

    // The TTL follows traces.retention_days at every start; existing parts keep theirs until they merge.
    private async Task ApplyRetentionAsync(CancellationToken cancellationToken)
    {
        var parameters = new ClickHouseParameterCollection
        {
            new ClickHouseDbParameter { ParameterName = "db", Value = _database },
        };
        var engine = (string?)await _client.ExecuteScalarAsync("SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = 'traces'", parameters, null, cancellationToken) ?? "";
        var options = new QueryOptions { CustomSettings = new Dictionary<string, object> { ["materialize_ttl_after_modify"] = 0 } };
        if (_retentionDays > 0)
        {
            var ttl = $"TTL toDateTime(started_at) + toIntervalDay({_retentionDays.ToString(CultureInfo.InvariantCulture)})";
            if (!engine.Contains(ttl, StringComparison.Ordinal))
            {
                await _client.ExecuteNonQueryAsync($"ALTER TABLE {_database}.traces MODIFY {ttl}", null, options, cancellationToken);
            }
        }
        else if (engine.Contains("TTL ", StringComparison.Ordinal))
        {
            await _client.ExecuteNonQueryAsync($"ALTER TABLE {_database}.traces REMOVE TTL", null, options, cancellationToken);
        }
    }

    private Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken) => _client.ExecuteNonQueryAsync(sql, null, null, cancellationToken);

    // ---- writes -------------------------------------------------------------------------------------

    public async Task WriteAsync(IReadOnlyList<TraceEvent> batch, string batchToken, CancellationToken cancellationToken)
    {
        var (traces, audits) = McpAuditEnvelope.Split(batch);
        var ingestedAt = _time.GetUtcNow();
        // Dedup tokens are per table, so both inserts of one batch carry the batch's token.
        await InsertAsync("traces", traces, (body, trace) => TraceRow.WriteJson(body, trace, ingestedAt), batchToken, cancellationToken);
        await InsertAsync("mcp_audit", audits, McpAuditEnvelope.WriteJson, batchToken, cancellationToken);
    }

    private async Task InsertAsync<T>(string table, List<T> rows, Action<Stream, T> write, string batchToken, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
        {
            return;
        }
        using var body = new MemoryStream();
        foreach (var row in rows)
        {
            write(body, row);
        }
        body.Position = 0;
        var options = new QueryOptions
        {
            CustomSettings = new Dictionary<string, object>
            {
                ["insert_deduplication_token"] = batchToken,
                ["insert_deduplicate"] = 1,
                ["async_insert"] = 0,
            },
        };
        using var response = await _client.InsertRawStreamAsync($"{_database}.{table}", body, "JSONEachRow", null, false, options, cancellationToken);
        response.EnsureSuccessStatusCode();
    }

    public async Task<IReadOnlyList<McpAuditEvent>> QueryAuditAsync(McpAuditFilter filter, CancellationToken cancellationToken)
    {
        var clauses = new List<string>();
        var parameters = new ClickHouseParameterCollection();
        foreach (var (column, value) in filter.Terms())
        {
            clauses.Add(column == "outcome" ? "toString(outcome) = {outcome:String}" : $"{column} = {{{column}:String}}");
            parameters.Add(new ClickHouseDbParameter { ParameterName = column, Value = value });
        }
        if (filter.Since is { } since)
        {
            clauses.Add("time >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')");
            parameters.Add(new ClickHouseDbParameter { ParameterName = "since", Value = since.ToUnixTimeMilliseconds() });
        }
        if (filter.Until is { } until)
        {
            clauses.Add("time < fromUnixTimestamp64Milli({until:Int64}, 'UTC')");
            parameters.Add(new ClickHouseDbParameter { ParameterName = "until", Value = until.ToUnixTimeMilliseconds() });
        }
        var where = clauses.Count == 0 ? "" : "WHERE " + string.Join(" AND ", clauses);
        using var reader = await _client.ExecuteReaderAsync(
            $"SELECT event FROM {_database}.mcp_audit FINAL {where} ORDER BY time DESC, id DESC LIMIT {filter.EffectiveLimit.ToString(CultureInfo.InvariantCulture)}",
            parameters, null, cancellationToken);
        var rows = new List<McpAuditEvent>();
        while (await reader.ReadAsync(cancellationToken))
        {
            if (reader.GetString(0) is { Length: > 0 } encoded)
            {
                rows.Add(McpAuditEnvelope.Parse(encoded));
            }
        }
        return rows;
    }

    // ---- reads --------------------------------------------------------------------------------------

    // Inserts here are appends (deduplicated per batch, not per row): a replayed journal must skip what is in.
    public async Task<IReadOnlySet<string>> ExistingAsync(IReadOnlyList<string> requestIds, CancellationToken cancellationToken)
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        if (requestIds.Count == 0)
        {
            return found;
        }
        var parameters = new ClickHouseParameterCollection { new ClickHouseDbParameter { ParameterName = "ids", Value = requestIds.ToArray() } };
        using var reader = await _client.ExecuteReaderAsync($$"""
            SELECT request_id FROM {{_database}}.traces WHERE request_id IN {ids:Array(String)}
            UNION ALL SELECT id FROM {{_database}}.mcp_audit WHERE id IN {ids:Array(String)}
            """, parameters, null, cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            found.Add(reader.GetString(0));
        }
        return found;
    }

    public async Task<TraceEvent?> GetAsync(string requestId, CancellationToken cancellationToken)
    {
        var parameters = new ClickHouseParameterCollection { new ClickHouseDbParameter { ParameterName = "id", Value = requestId } };
        using var reader = await _client.ExecuteReaderAsync(
            $"SELECT event, request_body, response_body FROM {_database}.traces FINAL WHERE request_id = {{id:String}} LIMIT 1", parameters, null, cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }
        var trace = TraceRow.ParseEvent(reader.GetString(0));
        trace.RequestBody = reader.GetString(1);
        trace.ResponseBody = reader.GetString(2);
        using var feedback = await _client.ExecuteReaderAsync(
            $"SELECT score, comment, key_name, toUnixTimestamp64Milli(created_at) FROM {_database}.feedback FINAL WHERE request_id = {{id:String}} LIMIT 1", parameters, null, cancellationToken);
        if (await feedback.ReadAsync(cancellationToken))
        {
            trace.Feedback = new Feedback
            {
                RequestId = requestId,
                Score = Double(feedback, 0),
                Comment = feedback.GetString(1),
                KeyName = feedback.GetString(2),
                CreatedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(Long(feedback, 3))),
            };
        }
        return trace;
    }

    public async Task WriteFeedbackAsync(Feedback feedback, CancellationToken cancellationToken)
    {
        var parameters = new ClickHouseParameterCollection
        {
            new ClickHouseDbParameter { ParameterName = "id", Value = feedback.RequestId },
            new ClickHouseDbParameter { ParameterName = "score", Value = feedback.Score },
            new ClickHouseDbParameter { ParameterName = "comment", Value = feedback.Comment },
            new ClickHouseDbParameter { ParameterName = "key", Value = feedback.KeyName },
            new ClickHouseDbParameter { ParameterName = "at", Value = feedback.CreatedAt?.ToDateTimeOffset().ToUnixTimeMilliseconds() ?? 0L },
        };
        await _client.ExecuteNonQueryAsync(
            $"INSERT INTO {_database}.feedback VALUES ({{id:String}}, {{score:Float64}}, {{comment:String}}, {{key:String}}, fromUnixTimestamp64Milli({{at:Int64}}, 'UTC'))",
            parameters, null, cancellationToken);
    }

    // Two reads: the traces of each arm, then the arm's feedback (joined by request id, latest per request).
    public async Task<IReadOnlyList<ArmSummary>> ArmsAsync(string experiment, CancellationToken cancellationToken)
    {
        var parameters = new ClickHouseParameterCollection { new ClickHouseDbParameter { ParameterName = "e", Value = experiment } };
        var positive = FeedbackScores.Positive.ToString(CultureInfo.InvariantCulture);
        var scores = new Dictionary<string, (Moments Score, long Positive)>(StringComparer.Ordinal);
        using (var reader = await _client.ExecuteReaderAsync($$"""
            SELECT t.experiment_arm, count(), countIf(f.score >= {{positive}}), avg(f.score), varSamp(f.score)
            FROM (SELECT request_id, experiment_arm FROM {{_database}}.traces FINAL WHERE experiment = {e:String}) AS t
            INNER JOIN (SELECT request_id, argMax(score, created_at) AS score FROM {{_database}}.feedback GROUP BY request_id) AS f
                ON t.request_id = f.request_id
            GROUP BY t.experiment_arm
            """, parameters, null, cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                scores[reader.GetString(0)] = (new Moments(Long(reader, 1), Finite(reader, 3), Finite(reader, 4)), Long(reader, 2));
            }
        }
        using var arms = await _client.ExecuteReaderAsync($$"""
            SELECT experiment_arm, count(), countIf(status != 'ok'),
                   toFloat64(quantileExactLow(0.5)(total_ms)), toFloat64(quantileExactLow(0.95)(total_ms)),
                   avg(total_ms), varSamp(total_ms), avg(cost_usd), varSamp(cost_usd),
                   avg(input_tokens + output_tokens), varSamp(toFloat64(input_tokens + output_tokens))
            FROM {{_database}}.traces FINAL
            WHERE experiment = {e:String}
            GROUP BY experiment_arm ORDER BY experiment_arm
            """, parameters, null, cancellationToken);
        var result = new List<ArmSummary>();
        while (await arms.ReadAsync(cancellationToken))
        {
            var arm = arms.GetString(0);
            var n = Long(arms, 1);
            var (score, positiveCount) = scores.GetValueOrDefault(arm);
            result.Add(new ArmSummary(arm, n, Long(arms, 2), Double(arms, 3), Double(arms, 4),
                new Moments(n, Finite(arms, 5), Finite(arms, 6)), new Moments(n, Finite(arms, 7), Finite(arms, 8)),
                new Moments(n, Finite(arms, 9), Finite(arms, 10)), positiveCount, score));
        }
        return result;
    }

    // varSamp of one row is NaN (ClickHouse) where the statistics expect 0.
    private static double Finite(ClickHouseDataReader reader, int i) => reader.IsDBNull(i) ? 0 : Double(reader, i) is var value && double.IsFinite(value) ? value : 0;

    public async Task<TracePage> QueryAsync(TraceFilter filter, CancellationToken cancellationToken)
    {
        var (where, parameters) = Where(filter, withCursor: true);
        var limit = filter.EffectiveLimit;
        using var reader = await _client.ExecuteReaderAsync(
            $"SELECT event FROM {_database}.traces FINAL {where} ORDER BY started_at DESC, request_id DESC LIMIT {(limit + 1).ToString(CultureInfo.InvariantCulture)}",
            parameters, null, cancellationToken);
        var traces = new List<TraceEvent>();
        while (await reader.ReadAsync(cancellationToken))
        {
            traces.Add(TraceRow.ParseEvent(reader.GetString(0)));
        }
        string? next = null;
        if (traces.Count > limit)
        {
            traces.RemoveAt(limit);
            var last = traces[^1];
            next = new TraceCursor(TraceStoreNames.StartedMs(last), last.RequestId).Encode();
        }
        return new TracePage(traces, next);
    }

    public async Task<IReadOnlyList<SeriesPoint>> SeriesAsync(TraceFilter filter, TraceGroup groupBy, TimeSpan bucket, CancellationToken cancellationToken)
    {
        var (where, parameters) = Where(filter, withCursor: false);
        var seconds = Math.Max(1, (long)bucket.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        using var reader = await _client.ExecuteReaderAsync($"""
            SELECT toUnixTimestamp(toStartOfInterval(started_at, toIntervalSecond({seconds}))) AS bucket, {GroupExpression(groupBy)} AS g,
                   count(), countIf(status != 'ok'), sum(input_tokens), sum(output_tokens), sum(cost_usd)
            FROM {_database}.traces FINAL {where}
            GROUP BY bucket, g ORDER BY bucket, g
            """, parameters, null, cancellationToken);
        var points = new List<SeriesPoint>();
        while (await reader.ReadAsync(cancellationToken))
        {
            points.Add(new SeriesPoint(
                DateTimeOffset.FromUnixTimeSeconds(Long(reader, 0)), reader.GetString(1), Long(reader, 2), Long(reader, 3), Long(reader, 4), Long(reader, 5), Double(reader, 6)));
        }
        return points;
    }

    public async Task<IReadOnlyList<LatencyRow>> LatencyAsync(TraceFilter filter, TraceGroup groupBy, CancellationToken cancellationToken)
    {
        var (where, parameters) = Where(filter, withCursor: false);
        using var reader = await _client.ExecuteReaderAsync($"""
            SELECT {GroupExpression(groupBy)} AS g, count() AS n, countIf(status != 'ok'),
                   toFloat64(quantileExactLow(0.5)(total_ms)), toFloat64(quantileExactLow(0.95)(total_ms)),
                   toFloat64(quantileExactLow(0.5)(overhead_ms)), sum(cost_usd)
            FROM {_database}.traces FINAL {where}
            GROUP BY g ORDER BY n DESC, g
            """, parameters, null, cancellationToken);
        var rows = new List<LatencyRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var requests = Long(reader, 1);
            var errors = Long(reader, 2);
            rows.Add(new LatencyRow(reader.GetString(0), requests, errors, requests == 0 ? 0 : (double)errors / requests,
                Double(reader, 3), Double(reader, 4), Double(reader, 5), Double(reader, 6)));
        }
        return rows;
    }

    public async Task<long> CountAsync(TraceFilter filter, CancellationToken cancellationToken)
    {
        var (where, parameters) = Where(filter, withCursor: false);
        return Convert.ToInt64(await _client.ExecuteScalarAsync($"SELECT count() FROM {_database}.traces FINAL {where}", parameters, null, cancellationToken), CultureInfo.InvariantCulture);
    }

    // Analysts' and tests' way in: any SQL, rows as JSON objects.
    public async Task<List<Dictionary<string, object?>>> RawAsync(string sql, CancellationToken cancellationToken)
    {
        using var reader = await _client.ExecuteReaderAsync(sql.Replace("{database}", _database, StringComparison.Ordinal), null, null, cancellationToken);
        var rows = new List<Dictionary<string, object?>>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var row = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (var i = 0; i < reader.FieldCount; i++)
            {
                row[reader.GetName(i)] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }
            rows.Add(row);
        }
        return rows;
    }

    private static long Long(ClickHouseDataReader reader, int i) => Convert.ToInt64(reader.GetValue(i), CultureInfo.InvariantCulture);

    private static double Double(ClickHouseDataReader reader, int i) => Convert.ToDouble(reader.GetValue(i), CultureInfo.InvariantCulture);

    private static string GroupExpression(TraceGroup group) => group switch
    {
        TraceGroup.Team => "team",
        TraceGroup.Project => "project",
        TraceGroup.Provider => "provider",
        _ => "if(served_model != '', served_model, requested_model)",
    };

    private static (string Where, ClickHouseParameterCollection Parameters) Where(TraceFilter filter, bool withCursor)
    {
        var clauses = new List<string>();
        var parameters = new ClickHouseParameterCollection();
        void Add(string clause, string name, object value)
        {
            clauses.Add(clause);
            parameters.Add(new ClickHouseDbParameter { ParameterName = name, Value = value });
        }
        foreach (var (column, value) in filter.Terms())
        {
            switch (column)
            {
                case "from":
                    Add("started_at >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')", column, value);
                    break;
                case "to":
                    Add("started_at < fromUnixTimestamp64Milli({to:Int64}, 'UTC')", column, value);
                    break;
                case "model":
                    Add("(served_model = {model:String} OR requested_model = {model:String})", column, value);
                    break;
                case "prompt_version":
                    Add("prompt_version = {prompt_version:UInt32}", column, (uint)(int)value);
                    break;
                default:
                    Add($"{column} = {{{column}:String}}", column, value);
                    break;
            }
        }
        if (withCursor && TraceCursor.Decode(filter.Cursor) is { } cursor)
        {
            clauses.Add("(started_at, request_id) < (fromUnixTimestamp64Milli({cursor_ms:Int64}, 'UTC'), {cursor_id:String})");
            parameters.Add(new ClickHouseDbParameter { ParameterName = "cursor_ms", Value = cursor.StartedAtMs });
            parameters.Add(new ClickHouseDbParameter { ParameterName = "cursor_id", Value = cursor.RequestId });
        }
        return (clauses.Count == 0 ? "" : "WHERE " + string.Join(" AND ", clauses), parameters);
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}

// One trace as one ClickHouse row (JSONEachRow), and back.
internal static class TraceRow
{
    private static readonly JsonWriterOptions Options = new() { SkipValidation = true };

    public static void WriteJson(Stream output, TraceEvent trace, DateTimeOffset ingestedAt)
    {
        using (var w = new Utf8JsonWriter(output, Options))
        {
            var principal = trace.Principal;
            var usage = trace.Usage;
            var latencies = trace.Latencies ?? new Latencies();
            w.WriteStartObject();
            w.WriteString("request_id", trace.RequestId);
            w.WriteString("started_at", Time(trace.StartedAt?.ToDateTimeOffset() ?? DateTimeOffset.UnixEpoch));
            w.WriteString("finished_at", Time(trace.FinishedAt?.ToDateTimeOffset() ?? trace.StartedAt?.ToDateTimeOffset() ?? DateTimeOffset.UnixEpoch));
            w.WriteString("api", trace.Api);
            w.WriteString("key_name", principal?.KeyName ?? "");
            w.WriteString("team", principal?.Team ?? "");
            w.WriteString("project", principal?.Project ?? "");
            w.WriteString("environment", principal?.Environment ?? "");
            w.WriteString("user", principal?.User ?? "");
            w.WriteString("requested_model", trace.RequestedModel);
            w.WriteString("served_model", trace.ServedModel);
            w.WriteString("provider", trace.Provider);
            w.WriteString("upstream_model", trace.UpstreamModel);
            w.WriteString("deployment", trace.Deployment);
            w.WriteBoolean("stream", trace.Stream);
            w.WriteString("status", trace.Status);
            w.WriteString("error_class", trace.ErrorClass);
            w.WriteNumber("http_status", Math.Clamp(trace.HttpStatus, 0, 65535));
            w.WriteNumber("input_tokens", Math.Max(0, usage?.InputTokens ?? 0));
            w.WriteNumber("output_tokens", Math.Max(0, usage?.OutputTokens ?? 0));
            w.WriteNumber("cached_input_tokens", Math.Max(0, usage?.CachedInputTokens ?? 0));
            w.WriteNumber("reasoning_tokens", Math.Max(0, usage?.ReasoningTokens ?? 0));
            w.WriteNumber("cost_usd", trace.CostUsd);
            w.WriteStartArray("attempts");
            foreach (var attempt in trace.Attempts)
            {
                w.WriteStartObject();
                w.WriteString("provider", attempt.Provider);
                w.WriteString("model", attempt.Model);
                w.WriteString("upstream_model", attempt.UpstreamModel);
                w.WriteNumber("http_status", Math.Clamp(attempt.HttpStatus, 0, 65535));
                w.WriteString("error_class", attempt.ErrorClass);
                w.WriteNumber("latency_ms", attempt.LatencyMs);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNumber("auth_ms", latencies.AuthMs);
            w.WriteNumber("prompt_ms", latencies.PromptMs);
            w.WriteNumber("guard_in_ms", latencies.GuardInMs);
            w.WriteNumber("budget_ms", latencies.BudgetMs);
            w.WriteNumber("routing_ms", latencies.RoutingMs);
            w.WriteNumber("provider_ttft_ms", latencies.ProviderTtftMs);
            w.WriteNumber("provider_total_ms", latencies.ProviderTotalMs);
            w.WriteNumber("guard_out_ms", latencies.GuardOutMs);
            w.WriteNumber("total_ms", latencies.TotalMs);
            w.WriteNumber("overhead_ms", latencies.OverheadMs);
            w.WriteString("prompt_name", trace.PromptName);
            w.WriteNumber("prompt_version", Math.Max(0, trace.PromptVersion));
            w.WriteString("prompt_label", trace.PromptLabel);
            w.WriteString("experiment", trace.Experiment);
            w.WriteString("experiment_arm", trace.ExperimentArm);
            w.WriteString("guard_action", trace.GuardAction);
            w.WriteStartObject("guard_findings");
            foreach (var group in trace.GuardFindings.GroupBy(f => f.Direction.Length > 0 ? $"{f.Direction}:{f.EntityType}" : f.EntityType, StringComparer.Ordinal))
            {
                w.WriteNumber(group.Key, group.Sum(f => Math.Max(0, f.Count)));
            }
            w.WriteEndObject();
            w.WriteStartObject("metadata");
            foreach (var (key, value) in trace.Metadata)
            {
                w.WriteString(key, value);
            }
            w.WriteEndObject();
            w.WriteStartArray("tags");
            foreach (var tag in trace.Tags)
            {
                w.WriteStringValue(tag);
            }
            w.WriteEndArray();
            w.WriteString("capture", trace.Capture);
            w.WriteString("request_body", trace.RequestBody);
            w.WriteString("response_body", trace.ResponseBody);
            w.WriteString("event", EventWithoutBodies(trace));
            w.WriteString("ingested_at", Time(ingestedAt));
            w.WriteEndObject();
        }
        output.WriteByte((byte)'\n');
    }

    private static string EventWithoutBodies(TraceEvent trace)
    {
        if (trace.RequestBody.Length == 0 && trace.ResponseBody.Length == 0)
        {
            return Convert.ToBase64String(trace.ToByteArray());
        }
        var copy = trace.Clone();
        copy.RequestBody = "";
        copy.ResponseBody = "";
        return Convert.ToBase64String(copy.ToByteArray());
    }

    public static TraceEvent ParseEvent(string base64) => TraceEvent.Parser.ParseFrom(Convert.FromBase64String(base64));

    private static string Time(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);
}
