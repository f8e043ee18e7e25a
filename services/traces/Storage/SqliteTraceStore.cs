using System.Diagnostics;
using System.Globalization;
using Gateway.Common.Analytics;
using Gateway.Common.Storage;
using Gateway.Contracts.Traces.V1;
using Google.Protobuf;
using Microsoft.Data.Sqlite;

namespace Gateway.Traces.Storage;

// The embedded trace store: one row per request id (a replayed event replaces, never duplicates), the
// whole event kept as protobuf next to the columns that queries filter and aggregate on.
public sealed class SqliteTraceStore : ITraceStore, IMcpAuditStore
{
    private const int SchemaVersion = 3;

    private readonly string _connectionString;
    private readonly WorkerThread _writer = new("SQLite traces");
    // Writer thread only: when its last checkpoint ran (see CheckpointIfDue).
    private long _lastCheckpoint = Stopwatch.GetTimestamp();

    private SqliteTraceStore(string connectionString) => _connectionString = connectionString;

    // Small batches, written soon: a trace held in memory until its batch is written outlives the young
    // generation's collections and is promoted, and at ~2,600 requests/s a 500-row, 1 s batch kept the whole
    // heap growing into a gen2 collection about every second (governed gateway ~20% more CPU per request,
    // docs/performance.md). A SQLite commit of 100 rows costs little; ClickHouse keeps its large batches.
    public TraceBatching Batching => new(100, 50);

    public static SqliteTraceStore Open(string uri)
    {
        var path = uri.StartsWith("sqlite://", StringComparison.Ordinal) ? uri["sqlite://".Length..] : uri;
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } directory)
        {
            Directory.CreateDirectory(directory);
        }
        var store = new SqliteTraceStore(new SqliteConnectionStringBuilder { DataSource = path, Pooling = true }.ToString());
        store.Migrate();
        return store;
    }

    public Task MigrateAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    // Version 1 kept team/model/provider/status; version 2 adds every column the API filters and aggregates
    // on, filled from the stored events; version 3 the prompt label, experiment and arm.
    private void Migrate()
    {
        using var connection = Connect();
        Execute(connection, """
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS traces (
                request_id TEXT PRIMARY KEY,
                started_at INTEGER NOT NULL,
                team TEXT NOT NULL,
                model TEXT NOT NULL,
                provider TEXT NOT NULL,
                status TEXT NOT NULL,
                event BLOB NOT NULL
            );
            CREATE INDEX IF NOT EXISTS traces_started_at ON traces (started_at);
            CREATE TABLE IF NOT EXISTS feedback (
                request_id TEXT PRIMARY KEY,
                score REAL NOT NULL,
                comment TEXT NOT NULL,
                key_name TEXT NOT NULL,
                created_at INTEGER NOT NULL
            );
            """);
        MigrateAudit(connection);
        using var version = connection.CreateCommand();
        version.CommandText = "PRAGMA user_version";
        if (Convert.ToInt32(version.ExecuteScalar(), CultureInfo.InvariantCulture) >= SchemaVersion)
        {
            return;
        }
        using var transaction = connection.BeginTransaction();
        foreach (var column in new[] { "project TEXT NOT NULL DEFAULT ''", "user TEXT NOT NULL DEFAULT ''", "requested_model TEXT NOT NULL DEFAULT ''",
                     "error_class TEXT NOT NULL DEFAULT ''", "prompt_name TEXT NOT NULL DEFAULT ''", "prompt_version INTEGER NOT NULL DEFAULT 0",
                     "input_tokens INTEGER NOT NULL DEFAULT 0", "output_tokens INTEGER NOT NULL DEFAULT 0", "cost_usd REAL NOT NULL DEFAULT 0",
                     "total_ms REAL NOT NULL DEFAULT 0", "overhead_ms REAL NOT NULL DEFAULT 0", "prompt_label TEXT NOT NULL DEFAULT ''",
                     "experiment TEXT NOT NULL DEFAULT ''", "experiment_arm TEXT NOT NULL DEFAULT ''" })
        {
            if (!HasColumn(connection, column[..column.IndexOf(' ', StringComparison.Ordinal)]))
            {
                Execute(connection, $"ALTER TABLE traces ADD COLUMN {column}");
            }
        }
        Execute(connection, "CREATE INDEX IF NOT EXISTS traces_team_started ON traces (team, started_at)");
        Execute(connection, "CREATE INDEX IF NOT EXISTS traces_experiment ON traces (experiment, experiment_arm)");
        var existing = new List<TraceEvent>();
        using (var select = connection.CreateCommand())
        {
            select.CommandText = "SELECT event FROM traces";
            using var reader = select.ExecuteReader();
            while (reader.Read())
            {
                existing.Add(TraceEvent.Parser.ParseFrom((byte[])reader[0]));
            }
        }
        using (var upsert = Upsert(connection))
        {
            foreach (var trace in existing)
            {
                Bind(upsert, trace, null);
                upsert.ExecuteNonQuery();
            }
        }
        Execute(connection, $"PRAGMA user_version = {SchemaVersion}");
        transaction.Commit();
    }

    // The MCP audit table; an mcp_audit of the layout the MCP service once wrote here itself is kept aside.
    private static void MigrateAudit(SqliteConnection connection)
    {
        if (HasColumn(connection, "principal", "mcp_audit") && !HasColumn(connection, "event", "mcp_audit"))
        {
            Execute(connection, "ALTER TABLE mcp_audit RENAME TO mcp_audit_legacy");
        }
        Execute(connection, """
            CREATE TABLE IF NOT EXISTS mcp_audit (
                id TEXT PRIMARY KEY,
                time INTEGER NOT NULL,
                session TEXT NOT NULL,
                principal TEXT NOT NULL,
                user TEXT NOT NULL,
                team TEXT NOT NULL,
                roles TEXT NOT NULL,
                client_name TEXT NOT NULL,
                client_version TEXT NOT NULL,
                endpoint TEXT NOT NULL,
                server TEXT NOT NULL,
                tool TEXT NOT NULL,
                arguments TEXT NOT NULL,
                outcome TEXT NOT NULL,
                reason TEXT NOT NULL,
                latency_ms REAL NOT NULL,
                result_bytes INTEGER NOT NULL,
                justification TEXT NOT NULL,
                tool_call_id TEXT NOT NULL,
                trace_id TEXT NOT NULL,
                guard_policy TEXT NOT NULL,
                guard_action TEXT NOT NULL,
                guard_findings TEXT NOT NULL,
                event BLOB NOT NULL
            );
            CREATE INDEX IF NOT EXISTS mcp_audit_time ON mcp_audit (time);
            CREATE INDEX IF NOT EXISTS mcp_audit_principal ON mcp_audit (principal, time);
            """);
    }

    private static bool HasColumn(SqliteConnection connection, string name, string table = "traces")
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM pragma_table_info('{table}') WHERE name = $name";
        command.Parameters.AddWithValue("$name", name);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private SqliteConnection Connect()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        // WAL with NORMAL sync: commits survive a process crash; only an OS crash can lose the last few.
        // FULL would fsync every trace and cap ingest at the disk's fsync rate. The writer checkpoints (CheckpointIfDue).
        WalCheckpointer.Configure(connection);
        return connection;
    }

    public Task WriteAsync(TraceEvent trace, CancellationToken cancellationToken) => WriteAsync([trace], "", cancellationToken);

    public Task WriteAsync(IReadOnlyList<TraceEvent> batch, string batchToken, CancellationToken cancellationToken)
        => WriteAsync(batch, null, batchToken, cancellationToken);

    public Task WriteAsync(IReadOnlyList<TraceEvent> batch, IReadOnlyList<byte[]>? encoded, string batchToken, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return _writer.RunAsync(() => Write(batch, encoded));
    }

    // Every write runs on the writer thread, one at a time.
    private void Write(IReadOnlyList<TraceEvent> batch, IReadOnlyList<byte[]>? encoded)
    {
        using var connection = Connect();
        using var transaction = connection.BeginTransaction();
        var (traces, audits) = McpAuditEnvelope.Split(batch);
        if (traces.Count > 0)
        {
            // One statement parsed once per batch and re-bound per row.
            using var upsert = Upsert(connection);
            for (var i = 0; i < batch.Count; i++)
            {
                if (batch[i].McpAudit is null)
                {
                    Bind(upsert, batch[i], encoded?[i]);
                    upsert.ExecuteNonQuery();
                }
            }
        }
        foreach (var audit in audits)
        {
            using var command = connection.CreateCommand();
            command.CommandText = """
                INSERT OR REPLACE INTO mcp_audit VALUES ($id, $time, $session, $principal, $user, $team, $roles, $client_name,
                    $client_version, $endpoint, $server, $tool, $arguments, $outcome, $reason, $latency_ms, $result_bytes,
                    $justification, $tool_call_id, $trace_id, $guard_policy, $guard_action, $guard_findings, $event)
                """;
            foreach (var (name, value) in new (string, object)[]
            {
                ("id", audit.Id), ("time", McpAuditEnvelope.TimeMs(audit)), ("session", audit.Session), ("principal", audit.Principal),
                ("user", audit.User), ("team", audit.Team), ("roles", string.Join(',', audit.Roles)), ("client_name", audit.ClientName),
                ("client_version", audit.ClientVersion), ("endpoint", audit.Endpoint), ("server", audit.Server), ("tool", audit.Tool),
                ("arguments", audit.Arguments), ("outcome", audit.Outcome), ("reason", audit.Reason), ("latency_ms", audit.LatencyMs),
                ("result_bytes", audit.ResultBytes), ("justification", audit.Justification), ("tool_call_id", audit.ToolCallId),
                ("trace_id", audit.TraceId), ("guard_policy", audit.GuardPolicy), ("guard_action", audit.GuardAction),
                ("guard_findings", McpAuditEnvelope.FindingsJson(audit)), ("event", audit.ToByteArray()),
            })
            {
                command.Parameters.AddWithValue("$" + name, value);
            }
            command.ExecuteNonQuery();
        }
        transaction.Commit();
        CheckpointIfDue(connection);
    }

    // Every writer-thread commit ends here: once a second the writer itself copies the WAL into the database,
    // between its batches, so the copy always finishes and the WAL file is reused instead of growing (see
    // WalCheckpointer.TryCheckpoint). Readers never wait for it; the next batch waits, off the request path.
    private void CheckpointIfDue(SqliteConnection connection)
    {
        if (Stopwatch.GetElapsedTime(_lastCheckpoint) < WalCheckpointer.Interval)
        {
            return;
        }
        WalCheckpointer.TryCheckpoint(connection, out _);
        _lastCheckpoint = Stopwatch.GetTimestamp();
    }

    private static SqliteCommand Upsert(SqliteConnection connection)
    {
        var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO traces (request_id, started_at, team, model, provider, status, event, project, user, requested_model,
                                error_class, prompt_name, prompt_version, input_tokens, output_tokens, cost_usd, total_ms, overhead_ms,
                                prompt_label, experiment, experiment_arm)
            VALUES ($id, $at, $team, $model, $provider, $status, $event, $project, $user, $requested, $error, $prompt, $version,
                    $input, $output, $cost, $total, $overhead, $label, $experiment, $arm)
            ON CONFLICT (request_id) DO UPDATE SET
                started_at = excluded.started_at, team = excluded.team, model = excluded.model, provider = excluded.provider,
                status = excluded.status, event = excluded.event, project = excluded.project, user = excluded.user,
                requested_model = excluded.requested_model, error_class = excluded.error_class, prompt_name = excluded.prompt_name,
                prompt_version = excluded.prompt_version, input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
                cost_usd = excluded.cost_usd, total_ms = excluded.total_ms, overhead_ms = excluded.overhead_ms,
                prompt_label = excluded.prompt_label, experiment = excluded.experiment, experiment_arm = excluded.experiment_arm
            """;
        foreach (var name in UpsertParameters)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }
        command.Prepare();
        return command;
    }

    private static readonly string[] UpsertParameters = ["$id", "$at", "$team", "$model", "$provider", "$status", "$event", "$project", "$user", "$requested", "$error", "$prompt", "$version", "$input", "$output", "$cost", "$total", "$overhead", "$label", "$experiment", "$arm"];

    private static void Bind(SqliteCommand command, TraceEvent trace, byte[]? encoded)
    {
        var parameters = command.Parameters;
        parameters["$id"].Value = trace.RequestId;
        parameters["$at"].Value = TraceStoreNames.StartedMs(trace);
        parameters["$team"].Value = trace.Principal?.Team ?? "";
        parameters["$model"].Value = TraceStoreNames.ModelOf(trace);
        parameters["$provider"].Value = trace.Provider;
        parameters["$status"].Value = trace.Status;
        parameters["$event"].Value = encoded ?? trace.ToByteArray();
        parameters["$project"].Value = trace.Principal?.Project ?? "";
        parameters["$user"].Value = trace.Principal?.User ?? "";
        parameters["$requested"].Value = trace.RequestedModel;
        parameters["$error"].Value = trace.ErrorClass;
        parameters["$prompt"].Value = trace.PromptName;
        parameters["$version"].Value = trace.PromptVersion;
        parameters["$input"].Value = trace.Usage?.InputTokens ?? 0;
        parameters["$output"].Value = trace.Usage?.OutputTokens ?? 0;
        parameters["$cost"].Value = trace.CostUsd;
        parameters["$total"].Value = trace.Latencies?.TotalMs ?? 0;
        parameters["$overhead"].Value = trace.Latencies?.OverheadMs ?? 0;
        parameters["$label"].Value = trace.PromptLabel;
        parameters["$experiment"].Value = trace.Experiment;
        parameters["$arm"].Value = trace.ExperimentArm;
    }

    public async Task<IReadOnlyList<McpAuditEvent>> QueryAuditAsync(McpAuditFilter filter, CancellationToken cancellationToken)
    {
        await using var connection = Connect();
        await using var command = connection.CreateCommand();
        var where = new List<string>();
        foreach (var (column, value) in filter.Terms())
        {
            where.Add($"{column} = ${column}");
            command.Parameters.AddWithValue("$" + column, value);
        }
        if (filter.Since is { } since)
        {
            where.Add("time >= $since");
            command.Parameters.AddWithValue("$since", since.ToUnixTimeMilliseconds());
        }
        if (filter.Until is { } until)
        {
            where.Add("time < $until");
            command.Parameters.AddWithValue("$until", until.ToUnixTimeMilliseconds());
        }
        command.CommandText = $"SELECT event FROM mcp_audit {(where.Count > 0 ? "WHERE " + string.Join(" AND ", where) : "")} ORDER BY time DESC, rowid DESC LIMIT $limit";
        command.Parameters.AddWithValue("$limit", filter.EffectiveLimit);
        var rows = new List<McpAuditEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(McpAuditEvent.Parser.ParseFrom((byte[])reader[0]));
        }
        return rows;
    }

    public async Task<TraceEvent?> GetAsync(string requestId, CancellationToken cancellationToken)
    {
        await using var connection = Connect();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT t.event, f.score, f.comment, f.key_name, f.created_at FROM traces t LEFT JOIN feedback f ON f.request_id = t.request_id WHERE t.request_id = $id";
        command.Parameters.AddWithValue("$id", requestId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }
        var trace = TraceEvent.Parser.ParseFrom((byte[])reader[0]);
        if (!reader.IsDBNull(1))
        {
            trace.Feedback = new Feedback
            {
                RequestId = requestId,
                Score = reader.GetDouble(1),
                Comment = reader.GetString(2),
                KeyName = reader.GetString(3),
                CreatedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4))),
            };
        }
        return trace;
    }

    public Task WriteFeedbackAsync(Feedback feedback, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return _writer.RunAsync(() =>
        {
            using var connection = Connect();
            using var command = connection.CreateCommand();
            command.CommandText = """
                INSERT INTO feedback (request_id, score, comment, key_name, created_at) VALUES ($id, $score, $comment, $key, $at)
                ON CONFLICT (request_id) DO UPDATE SET score = excluded.score, comment = excluded.comment, key_name = excluded.key_name, created_at = excluded.created_at
                """;
            command.Parameters.AddWithValue("$id", feedback.RequestId);
            command.Parameters.AddWithValue("$score", feedback.Score);
            command.Parameters.AddWithValue("$comment", feedback.Comment);
            command.Parameters.AddWithValue("$key", feedback.KeyName);
            command.Parameters.AddWithValue("$at", feedback.CreatedAt?.ToDateTimeOffset().ToUnixTimeMilliseconds() ?? 0);
            command.ExecuteNonQuery();
            CheckpointIfDue(connection);
        });
    }

    public async Task<IReadOnlyList<ArmSummary>> ArmsAsync(string experiment, CancellationToken cancellationToken)
    {
        await using var connection = Connect();
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT t.experiment_arm, t.status, t.total_ms, t.cost_usd, t.input_tokens + t.output_tokens, f.score
            FROM traces t LEFT JOIN feedback f ON f.request_id = t.request_id
            WHERE t.experiment = $experiment
            """;
        command.Parameters.AddWithValue("$experiment", experiment);
        var arms = new Dictionary<string, (List<double> Latency, List<double> Cost, List<double> Tokens, List<double> Scores, long Errors)>(StringComparer.Ordinal);
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var name = reader.GetString(0);
                if (!arms.TryGetValue(name, out var arm))
                {
                    arm = ([], [], [], [], 0);
                }
                arm.Latency.Add(reader.GetDouble(2));
                arm.Cost.Add(reader.GetDouble(3));
                arm.Tokens.Add(reader.GetInt64(4));
                if (!reader.IsDBNull(5))
                {
                    arm.Scores.Add(reader.GetDouble(5));
                }
                arms[name] = arm with { Errors = arm.Errors + (reader.GetString(1) == "ok" ? 0 : 1) };
            }
        }
        return [.. arms.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => new ArmSummary(a.Key, a.Value.Latency.Count, a.Value.Errors,
            Quantile([.. a.Value.Latency], 0.5), Quantile([.. a.Value.Latency], 0.95), Moments.Of(a.Value.Latency), Moments.Of(a.Value.Cost),
            Moments.Of(a.Value.Tokens), a.Value.Scores.Count(s => s >= FeedbackScores.Positive), Moments.Of(a.Value.Scores)))];
    }

    public async Task<List<TraceEvent>> RecentAsync(int limit, CancellationToken cancellationToken)
        => [.. (await QueryAsync(new TraceFilter { Limit = limit }, cancellationToken)).Traces];

    public async Task<TracePage> QueryAsync(TraceFilter filter, CancellationToken cancellationToken)
    {
        await using var connection = Connect();
        await using var command = connection.CreateCommand();
        var where = Where(command, filter, withCursor: true);
        var limit = filter.EffectiveLimit;
        command.CommandText = $"SELECT event FROM traces {where} ORDER BY started_at DESC, request_id DESC LIMIT {(limit + 1).ToString(CultureInfo.InvariantCulture)}";
        var traces = new List<TraceEvent>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var trace = TraceEvent.Parser.ParseFrom((byte[])reader[0]);
                trace.RequestBody = "";
                trace.ResponseBody = "";
                traces.Add(trace);
            }
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
        var bucketMs = Math.Max(1000, (long)bucket.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        await using var connection = Connect();
        await using var command = connection.CreateCommand();
        var where = Where(command, filter, withCursor: false);
        command.CommandText = $"""
            SELECT (started_at / {bucketMs}) * {bucketMs} AS bucket, {TraceStoreNames.GroupColumn(groupBy)} AS g,
                   count(*), sum(status != 'ok'), sum(input_tokens), sum(output_tokens), sum(cost_usd)
            FROM traces {where} GROUP BY bucket, g ORDER BY bucket, g
            """;
        var points = new List<SeriesPoint>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            points.Add(new SeriesPoint(DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(0)), reader.GetString(1), reader.GetInt64(2),
                reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetDouble(6)));
        }
        return points;
    }

    public async Task<IReadOnlyList<LatencyRow>> LatencyAsync(TraceFilter filter, TraceGroup groupBy, CancellationToken cancellationToken)
    {
        await using var connection = Connect();
        await using var command = connection.CreateCommand();
        var where = Where(command, filter, withCursor: false);
        command.CommandText = $"SELECT {TraceStoreNames.GroupColumn(groupBy)}, status, total_ms, overhead_ms, cost_usd FROM traces {where}";
        var groups = new Dictionary<string, (List<double> Total, List<double> Overhead, long Errors, double Cost)>(StringComparer.Ordinal);
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var key = reader.GetString(0);
                if (!groups.TryGetValue(key, out var group))
                {
                    group = ([], [], 0, 0);
                }
                group.Total.Add(reader.GetDouble(2));
                group.Overhead.Add(reader.GetDouble(3));
                groups[key] = (group.Total, group.Overhead, group.Errors + (reader.GetString(1) == "ok" ? 0 : 1), group.Cost + reader.GetDouble(4));
            }
        }
        return [.. groups
            .Select(g => new LatencyRow(g.Key, g.Value.Total.Count, g.Value.Errors, (double)g.Value.Errors / g.Value.Total.Count,
                Quantile(g.Value.Total, 0.5), Quantile(g.Value.Total, 0.95), Quantile(g.Value.Overhead, 0.5), g.Value.Cost))
            .OrderByDescending(r => r.Requests).ThenBy(r => r.Group, StringComparer.Ordinal)];
    }

    // The same rule as ClickHouse's quantileExactLow, so both stores answer alike.
    internal static double Quantile(List<double> values, double level)
    {
        values.Sort();
        var n = values.Count;
        var index = level == 0.5 ? (n % 2 == 0 ? n / 2 - 1 : n / 2) : Math.Min(n - 1, (int)(level * n));
        return values[Math.Max(0, index)];
    }

    public async Task<long> CountAsync(TraceFilter filter, CancellationToken cancellationToken)
    {
        await using var connection = Connect();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM traces {Where(command, filter, withCursor: false)}";
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }

    private static string Where(SqliteCommand command, TraceFilter filter, bool withCursor)
    {
        var clauses = new List<string>();
        void Add(string clause, string name, object value)
        {
            clauses.Add(clause);
            command.Parameters.AddWithValue(name, value);
        }
        foreach (var (column, value) in filter.Terms())
        {
            Add(column switch
            {
                "from" => "started_at >= $from",
                "to" => "started_at < $to",
                "model" => "(model = $model OR requested_model = $model)",
                _ => $"{column} = ${column}",
            }, "$" + column, value);
        }
        if (withCursor && TraceCursor.Decode(filter.Cursor) is { } cursor)
        {
            clauses.Add("(started_at < $cursor_ms OR (started_at = $cursor_ms AND request_id < $cursor_id))");
            command.Parameters.AddWithValue("$cursor_ms", cursor.StartedAtMs);
            command.Parameters.AddWithValue("$cursor_id", cursor.RequestId);
        }
        return clauses.Count == 0 ? "" : "WHERE " + string.Join(" AND ", clauses);
    }

    public ValueTask DisposeAsync()
    {
        _writer.Dispose();
        return ValueTask.CompletedTask;
    }
}
