using System.Text.Json;
using Gateway.Common.Configuration;
using Microsoft.Data.Sqlite;

namespace Gateway.Mcp.Audit;

// The MCP gateway's own state in SQLite: approved tool fingerprints and servers registered through the admin
// API. (The audit log goes to the traces service: McpAuditSink.)
public sealed class McpStateStore
{
    private readonly string _connectionString;

    public McpStateStore(ConfigMonitor config)
    {
        var uri = config.Current.Storage.Traces;
        // Next to the embedded traces (where earlier versions kept it), or beside the state database.
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
        }
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
}
