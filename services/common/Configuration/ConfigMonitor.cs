using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Gateway.Common.Configuration;

// Holds the live configuration and swaps it atomically when the file changes. A request reads `Current`
// once and keeps that snapshot, so a reload never disturbs requests in flight. An invalid edit is logged
// and ignored: the previous configuration stays in force. server, storage and services are read once at
// start (listeners, stores and service clients are built from them), so a reload keeps their running
// values, except the two request limits, and logs that a restart is needed.
public sealed class ConfigMonitor : IHostedService, IDisposable
{
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(150);

    private readonly string? _path;
    private readonly ILogger<ConfigMonitor> _logger;
    private readonly Func<string, string?>? _environment;
    private readonly FileSystemWatcher? _watcher;
    private readonly Lock _lock = new();
    private Timer? _debounce;
    private byte[]? _loadedHash;
    private bool _disposed;
    private volatile GatewayConfig _current;

    public ConfigMonitor(GatewayConfig initial, string? path, ILogger<ConfigMonitor> logger, Func<string, string?>? environment = null)
    {
        _current = initial;
        _path = path is null ? null : Path.GetFullPath(path);
        _logger = logger;
        _environment = environment;
        if (_path is not null && Path.GetDirectoryName(_path) is { } directory && Directory.Exists(directory))
        {
            // Watch the folder, not the file: editors save by renaming a temporary file over it, and
            // Kubernetes updates a mounted ConfigMap by swapping its `..data` link.
            var file = Path.GetFileName(_path);
            bool Relevant(string? name) => name is not null && (name == file || name.StartsWith("..", StringComparison.Ordinal));
            _watcher = new FileSystemWatcher(directory)
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            _watcher.Changed += (_, e) => { if (Relevant(e.Name)) { ScheduleReload(); } };
            _watcher.Created += (_, e) => { if (Relevant(e.Name)) { ScheduleReload(); } };
            _watcher.Renamed += (_, e) => { if (Relevant(e.Name) || Relevant(e.OldName)) { ScheduleReload(); } };
            _watcher.EnableRaisingEvents = true;
        }
    }

    public GatewayConfig Current => _current;

    // Raised after a successful reload with the configuration now in force.
    public event Action<GatewayConfig>? Changed;

    // Raised when an edit is rejected; the previous configuration stays in force.
    public event Action<ConfigException>? Rejected;

    // Reads the file now and applies it if valid. True when the new configuration is in force.
    public bool Reload() => Reload(onlyIfChanged: false);

    // Reads the file now and applies it only if its content differs from what is in force.
    public bool ReloadIfChanged() => Reload(onlyIfChanged: true);

    // SHA-256 (hex) of the file content last read; null before the first read.
    public string? LoadedSha256 => _loadedHash is { } hash ? Convert.ToHexStringLower(hash) : null;

    // Editors write files in several steps; wait for the writes to settle before reading.
    private void ScheduleReload()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _debounce?.Dispose();
            _debounce = new Timer(_ => OnDebounced(), null, Debounce, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnDebounced()
    {
        try
        {
            Reload(onlyIfChanged: true);
        }
        catch (Exception e)
        {
            // A timer callback must not throw: that would end the process.
            CommonLog.ConfigReloadFailed(_logger, e, _path!);
        }
    }

    private bool Reload(bool onlyIfChanged)
    {
        if (_path is null)
        {
            return false;
        }
        lock (_lock)
        {
            if (_disposed)
            {
                return false;
            }
            GatewayConfig next;
            byte[]? hash = null;
            try
            {
                var yaml = ConfigLoader.Read(_path);
                hash = SHA256.HashData(Encoding.UTF8.GetBytes(yaml));
                if (onlyIfChanged && _loadedHash is not null && hash.AsSpan().SequenceEqual(_loadedHash))
                {
                    return false;
                }
                next = ConfigLoader.Parse(yaml, _environment);
            }
            catch (ConfigException e)
            {
                // Remember the rejected version too, so the same bad file is reported once.
                _loadedHash = hash ?? _loadedHash;
                CommonLog.ConfigReloadRejected(_logger, _path, e.Message);
                Rejected?.Invoke(e);
                return false;
            }
            _loadedHash = hash;
            var previous = _current;
            next = KeepStartupSettings(previous, next);
            _current = next;
            CommonLog.ConfigReloaded(_logger, _path);
            Changed?.Invoke(next);
            return true;
        }
    }

    private GatewayConfig KeepStartupSettings(GatewayConfig previous, GatewayConfig next)
    {
        var server = previous.Server with { MaxRequestBodyBytes = next.Server.MaxRequestBodyBytes, MaxJsonDepth = next.Server.MaxJsonDepth };
        var needRestart = new List<string>(3);
        if (server != next.Server)
        {
            needRestart.Add("server");
        }
        if (previous.Storage != next.Storage)
        {
            needRestart.Add("storage");
        }
        if (previous.Services != next.Services)
        {
            needRestart.Add("services");
        }
        if (needRestart.Count > 0)
        {
            CommonLog.ConfigNeedsRestart(_logger, _path!, string.Join(", ", needRestart));
        }
        return next with { Server = server, Storage = previous.Storage, Services = previous.Services };
    }

    // Registered as a hosted service only so the host creates it at start: the file is watched from then
    // on, not from the first request that happens to need the configuration.
    Task IHostedService.StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    Task IHostedService.StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _debounce?.Dispose();
        }
        _watcher?.Dispose();
    }
}
