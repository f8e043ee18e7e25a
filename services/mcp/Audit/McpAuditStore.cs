using System.Text.Json;
using System.Threading.Channels;
using Gateway.Common.Configuration;
using Microsoft.Data.Sqlite;

namespace Gateway.Mcp.Audit;

// One audited tools/call.
public sealed record McpAuditRecord
{
    public string Id { get; init; } = "";
    public DateTimeOffset Time { get; init; }
    public string Session { get; init; } = "";
    public string Principal { get; init; } = "";
    public string User { get; init; } = "";
    public string Team { get; init; } = "";
    public IReadOnlyList<string> Roles { get; init; } = [];
    public string ClientName { get; init; } = "";
    public string ClientVersion { get; init; } = "";
    public string Endpoint { get; init; } = "";
    public string Server { get; init; } = "";
    public string Tool { get; init; } = "";
    public string Arguments { get; init; } = "{}";
    // ok, error, denied, rate_limited, timeout, blocked (by the guard)
    public string Outcome { get; init; } = "";
    public string Reason { get; init; } = "";
    public double LatencyMs { get; init; }
    public long ResultBytes { get; init; }
    public string Justification { get; init; } = "";
    // The id of the LLM tool call that asked for this call (`_meta.tool_call_id`), linking to that trace.
    public string ToolCallId { get; init; } = "";
    public string TraceId { get; init; } = "";
    // What the guard did with the arguments and the result: its policy, strongest action and findings
    // (entity types and counts, never values).
    public string GuardPolicy { get; init; } = "";
    public string GuardAction { get; init; } = "";
    public IReadOnlyList<McpGuardFinding> GuardFindings { get; init; } = [];
}

public sealed record McpAuditQuery(string? Principal, string? Server, string? Tool, string? Outcome, DateTimeOffset? Since, DateTimeOffset? Until, int Limit);

// The embedded audit store (SQLite, next to the traces): writes go through a queue to one writer so a
// tools/call never waits on the disk; queries first wait for everything queued before them.
public sealed class McpAuditStore : IAsyncDisposable
{
    private readonly string _connectionString;
    private readonly Channel<(McpAuditRecord? Record, TaskCompletionSource? Flushed)> _queue = Channel.CreateUnbounded<(McpAuditRecord?, TaskCompletionSource?)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;
    private readonly ILogger<McpAuditStore> _logger;

    public McpAuditStore(ConfigMonitor config, ILogger<McpAuditStore> logger)
    {
        _logger = logger;
        var uri = config.Current.Storage.Traces;
        // With ClickHouse for traces (the mesh), the audit table there is fed by the traces service; this
        // process keeps its own SQLite copy next to the state database.
        var path = uri.StartsWith("sqlite://", StringComparison.Ordinal)
            ? uri["sqlite://".Length..]
            : Path.Combine(Path.GetDirectoryName(config.Current.Storage.State.Replace("sqlite://", "", StringComparison.Ordinal)) ?? "./data", "mcp-audit.db");
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } directory)
        {
            Directory.CreateDirectory(directory);
        }
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true }.ToString();
        using (var connection = Connect())
        using (var command = connection.CreateCommand())
        {
            command.CommandText = """
                PRAGMA journal_mode = WAL;
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
                    guard_policy TEXT NOT NULL DEFAULT '',
                    guard_action TEXT NOT NULL DEFAULT '',
                    guard_findings TEXT NOT NULL DEFAULT '[]'
                );
                CREATE INDEX IF NOT EXISTS mcp_audit_time ON mcp_audit (time);
                CREATE INDEX IF NOT EXISTS mcp_audit_principal ON mcp_audit (principal, time);
                CREATE TABLE IF NOT EXISTS mcp_servers (
                    name TEXT PRIMARY KEY,
                    config TEXT NOT NULL,
                    registered_at INTEGER NOT NULL
                );
                CREATE TABLE IF NOT EXISTS mcp_tool_fingerprints (
                    server TEXT NOT NULL,
                    tool TEXT NOT NULL,
                    fingerprint TEXT NOT NULL,
                    approved_by TEXT NOT NULL,
                    PRIMARY KEY (server, tool)
                );
                """;
            command.ExecuteNonQuery();
            AddGuardColumns(connection);
        }
        _writer = Task.Run(WriteLoopAsync);
    }

    // Audit files written before the guard columns existed get them added.
    private static void AddGuardColumns(SqliteConnection connection)
    {
        using var columns = connection.CreateCommand();
        columns.CommandText = "SELECT count(*) FROM pragma_table_info('mcp_audit') WHERE name = 'guard_policy'";
        if (Convert.ToInt64(columns.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0)
        {
            return;
        }
        using var alter = connection.CreateCommand();
        alter.CommandText = """
            ALTER TABLE mcp_audit ADD COLUMN guard_policy TEXT NOT NULL DEFAULT '';
            ALTER TABLE mcp_audit ADD COLUMN guard_action TEXT NOT NULL DEFAULT '';
            ALTER TABLE mcp_audit ADD COLUMN guard_findings TEXT NOT NULL DEFAULT '[]';
            """;
        alter.ExecuteNonQuery();
    }

    public void Enqueue(McpAuditRecord record) => _queue.Writer.TryWrite((record, null));

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        var flushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_queue.Writer.TryWrite((null, flushed)))
        {
            await flushed.Task.WaitAsync(cancellationToken);
        }
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<McpAuditRecord>();
        var flushes = new List<TaskCompletionSource>();
        while (await _queue.Reader.WaitToReadAsync())
        {
            while (batch.Count < 512 && _queue.Reader.TryRead(out var item))
            {
                if (item.Record is not null)
                {
                    batch.Add(item.Record);
                }
                if (item.Flushed is not null)
                {
                    flushes.Add(item.Flushed);
                }
            }
            try
            {
                Write(batch);
            }
            catch (SqliteException error)
            {
                McpLog.AuditWriteFailed(_logger, error, batch.Count);
            }
            batch.Clear();
            foreach (var flushed in flushes)
            {
                flushed.TrySetResult();
            }
            flushes.Clear();
        }
    }

    private void Write(List<McpAuditRecord> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }
        using var connection = Connect();
        using var transaction = connection.BeginTransaction();
        using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT OR REPLACE INTO mcp_audit VALUES ($id, $time, $session, $principal, $user, $team, $roles, $client_name, $client_version,
                $endpoint, $server, $tool, $arguments, $outcome, $reason, $latency_ms, $result_bytes, $justification, $tool_call_id, $trace_id,
                $guard_policy, $guard_action, $guard_findings)
            """;
        foreach (var r in batch)
        {
            command.Parameters.Clear();
            command.Parameters.AddWithValue("$id", r.Id);
            command.Parameters.AddWithValue("$time", r.Time.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$session", r.Session);
            command.Parameters.AddWithValue("$principal", r.Principal);
            command.Parameters.AddWithValue("$user", r.User);
            command.Parameters.AddWithValue("$team", r.Team);
            command.Parameters.AddWithValue("$roles", string.Join(',', r.Roles));
            command.Parameters.AddWithValue("$client_name", r.ClientName);
            command.Parameters.AddWithValue("$client_version", r.ClientVersion);
            command.Parameters.AddWithValue("$endpoint", r.Endpoint);
            command.Parameters.AddWithValue("$server", r.Server);
            command.Parameters.AddWithValue("$tool", r.Tool);
            command.Parameters.AddWithValue("$arguments", r.Arguments);
            command.Parameters.AddWithValue("$outcome", r.Outcome);
            command.Parameters.AddWithValue("$reason", r.Reason);
            command.Parameters.AddWithValue("$latency_ms", r.LatencyMs);
            command.Parameters.AddWithValue("$result_bytes", r.ResultBytes);
            command.Parameters.AddWithValue("$justification", r.Justification);
            command.Parameters.AddWithValue("$tool_call_id", r.ToolCallId);
            command.Parameters.AddWithValue("$trace_id", r.TraceId);
            command.Parameters.AddWithValue("$guard_policy", r.GuardPolicy);
            command.Parameters.AddWithValue("$guard_action", r.GuardAction);
            command.Parameters.AddWithValue("$guard_findings", McpGuardFinding.ToJson(r.GuardFindings));
            command.ExecuteNonQuery();
        }
        transaction.Commit();
    }

    public async Task<IReadOnlyList<McpAuditRecord>> QueryAsync(McpAuditQuery query, CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken);
        await using var connection = Connect();
        await using var command = connection.CreateCommand();
        var where = new List<string>();
        void Filter(string column, string? value)
        {
            if (!string.IsNullOrEmpty(value))
            {
                where.Add($"{column} = ${column}");
                command.Parameters.AddWithValue("$" + column, value);
            }
        }
        Filter("principal", query.Principal);
        Filter("server", query.Server);
        Filter("tool", query.Tool);
        Filter("outcome", query.Outcome);
        if (query.Since is { } since)
        {
            where.Add("time >= $since");
            command.Parameters.AddWithValue("$since", since.ToUnixTimeMilliseconds());
        }
        if (query.Until is { } until)
        {
            where.Add("time < $until");
            command.Parameters.AddWithValue("$until", until.ToUnixTimeMilliseconds());
        }
        command.CommandText = $"SELECT id, time, session, principal, user, team, roles, client_name, client_version, endpoint, server, tool, arguments, outcome, reason, latency_ms, result_bytes, justification, tool_call_id, trace_id, guard_policy, guard_action, guard_findings FROM mcp_audit {(where.Count > 0 ? "WHERE " + string.Join(" AND ", where) : "")} ORDER BY time DESC, rowid DESC LIMIT $limit";
        command.Parameters.AddWithValue("$limit", Math.Clamp(query.Limit, 1, 10_000));
        var rows = new List<McpAuditRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new McpAuditRecord
            {
                Id = reader.GetString(0),
                Time = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)),
                Session = reader.GetString(2),
                Principal = reader.GetString(3),
                User = reader.GetString(4),
                Team = reader.GetString(5),
                Roles = reader.GetString(6).Split(',', StringSplitOptions.RemoveEmptyEntries),
                ClientName = reader.GetString(7),
                ClientVersion = reader.GetString(8),
                Endpoint = reader.GetString(9),
                Server = reader.GetString(10),
                Tool = reader.GetString(11),
                Arguments = reader.GetString(12),
                Outcome = reader.GetString(13),
                Reason = reader.GetString(14),
                LatencyMs = reader.GetDouble(15),
                ResultBytes = reader.GetInt64(16),
                Justification = reader.GetString(17),
                ToolCallId = reader.GetString(18),
                TraceId = reader.GetString(19),
                GuardPolicy = reader.GetString(20),
                GuardAction = reader.GetString(21),
                GuardFindings = McpGuardFinding.FromJson(reader.GetString(22)),
            });
        }
        return rows;
    }

    public async Task<Dictionary<string, string>> ApprovedFingerprintsAsync(string server, CancellationToken cancellationToken)
    {
        await using var connection = Connect();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT tool, fingerprint FROM mcp_tool_fingerprints WHERE server = $server";
        command.Parameters.AddWithValue("$server", server);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result[reader.GetString(0)] = reader.GetString(1);
        }
        return result;
    }

    public async Task ApproveAsync(string server, string tool, string fingerprint, string approvedBy, CancellationToken cancellationToken)
    {
        await using var connection = Connect();
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT OR REPLACE INTO mcp_tool_fingerprints VALUES ($server, $tool, $fingerprint, $by)";
        command.Parameters.AddWithValue("$server", server);
        command.Parameters.AddWithValue("$tool", tool);
        command.Parameters.AddWithValue("$fingerprint", fingerprint);
        command.Parameters.AddWithValue("$by", approvedBy);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    // Servers registered through the admin API, so they survive a restart (configured ones live in the YAML).
    public async Task SaveServerAsync(string name, McpServerConfig server, DateTimeOffset registeredAt, CancellationToken cancellationToken)
    {
        await using var connection = Connect();
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT OR REPLACE INTO mcp_servers VALUES ($name, $config, $at)";
        command.Parameters.AddWithValue("$name", name);
        command.Parameters.AddWithValue("$config", JsonSerializer.Serialize(server, McpAuditJson.Default.McpServerConfig));
        command.Parameters.AddWithValue("$at", registeredAt.ToUnixTimeMilliseconds());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<bool> DeleteServerAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = Connect();
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM mcp_servers WHERE name = $name";
        command.Parameters.AddWithValue("$name", name);
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async Task<List<(string Name, McpServerConfig Server)>> ServersAsync(CancellationToken cancellationToken)
    {
        await using var connection = Connect();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT name, config FROM mcp_servers ORDER BY registered_at";
        var servers = new List<(string, McpServerConfig)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (JsonSerializer.Deserialize(reader.GetString(1), McpAuditJson.Default.McpServerConfig) is { } server)
            {
                servers.Add((reader.GetString(0), server));
            }
        }
        return servers;
    }

    private SqliteConnection Connect()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;";
        pragma.ExecuteNonQuery();
        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer;
    }
}
