using System.Collections.Concurrent;
using Gateway.Common.Configuration;
using Gateway.Mcp.Audit;
using Gateway.Mcp.Catalog;

namespace Gateway.Mcp.Upstreams;

// Every upstream MCP server: those in the configuration (added and removed on reload) and those registered
// at runtime through POST /admin/v1/mcp/servers (kept in the MCP store, so they come back after a restart;
// a configured server of the same name wins). Start-up waits a bounded time for the first discovery of
// each, so the gateway is ready with a catalogue when it starts accepting agents.
public sealed class UpstreamRegistry(ConfigMonitor config, ToolCatalog catalog, McpStateStore store, ILoggerFactory loggers, TimeProvider time) : IHostedService, IAsyncDisposable
{
    private static readonly TimeSpan StartupWait = TimeSpan.FromSeconds(15);

    private readonly ConcurrentDictionary<string, UpstreamConnection> _servers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _runtime = new(StringComparer.Ordinal);

    public IReadOnlyCollection<UpstreamConnection> Servers => _servers.Values.OrderBy(s => s.Name, StringComparer.Ordinal).ToArray();

    public UpstreamConnection? Find(string name) => _servers.GetValueOrDefault(name);

    public bool IsRuntime(string name) => _runtime.ContainsKey(name);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var (name, server) in config.Current.Mcp.Servers)
        {
            Add(name, server);
        }
        foreach (var (name, server) in await store.ServersAsync(cancellationToken))
        {
            if (!_servers.ContainsKey(name))
            {
                _runtime[name] = true;
                Add(name, server);
            }
        }
        config.Changed += OnConfigChanged;
        await WaitConnectedAsync(StartupWait, cancellationToken);
    }

    public async Task WaitConnectedAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await Task.WhenAll(_servers.Values.Select(s => s.WaitConnectedAsync(timeout, cancellationToken)));
        }
        catch (TimeoutException)
        {
            // Upstreams that are not up yet keep retrying in the background; /admin/v1/mcp/servers shows them.
        }
    }

    // Registers a server at runtime (admin API). False when the name is taken.
    public async Task<UpstreamConnection?> RegisterAsync(string name, McpServerConfig server, CancellationToken cancellationToken)
    {
        // Claimed atomically: of two registrations of one name, the second changes nothing (not even the stored copy).
        var connection = new UpstreamConnection(name, server, config.Current.Mcp.RefreshSeconds, loggers, time, catalog.PublishAsync);
        if (!_servers.TryAdd(name, connection))
        {
            await connection.DisposeAsync();
            return null;
        }
        _runtime[name] = true;
        connection.Start();
        await store.SaveServerAsync(name, server, time.GetUtcNow(), cancellationToken);
        try
        {
            await connection.WaitConnectedAsync(StartupWait, cancellationToken);
        }
        catch (TimeoutException)
        {
            // Reported as unhealthy; it keeps retrying.
        }
        return connection;
    }

    // A downstream session ended: close the upstream sessions opened for it.
    public async Task CloseSessionAsync(string sessionId)
    {
        foreach (var server in _servers.Values)
        {
            await server.CloseSessionAsync(sessionId);
        }
    }

    // Removes a server registered at runtime (configured servers are removed by editing the configuration).
    public async Task<bool> UnregisterAsync(string name, CancellationToken cancellationToken)
    {
        if (!_runtime.ContainsKey(name) || !_servers.TryRemove(name, out var removed))
        {
            return false;
        }
        _runtime.TryRemove(name, out _);
        await store.DeleteServerAsync(name, cancellationToken);
        catalog.Remove(name);
        await removed.DisposeAsync();
        return true;
    }

    private UpstreamConnection Add(string name, McpServerConfig server)
    {
        var connection = new UpstreamConnection(name, server, config.Current.Mcp.RefreshSeconds, loggers, time, catalog.PublishAsync);
        if (_servers.TryAdd(name, connection))
        {
            connection.Start();
        }
        return _servers[name];
    }

    private void OnConfigChanged(GatewayConfig current)
    {
        foreach (var (name, server) in current.Mcp.Servers)
        {
            if (!_servers.ContainsKey(name))
            {
                Add(name, server);
            }
        }
        foreach (var name in _servers.Keys)
        {
            if (!current.Mcp.Servers.ContainsKey(name) && !_runtime.ContainsKey(name) && _servers.TryRemove(name, out var removed))
            {
                catalog.Remove(name);
                _ = removed.DisposeAsync().AsTask();
            }
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        config.Changed -= OnConfigChanged;
        await Task.WhenAll(_servers.Values.Select(s => s.DisposeAsync().AsTask()));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers.Values)
        {
            await server.DisposeAsync();
        }
        _servers.Clear();
    }
}
