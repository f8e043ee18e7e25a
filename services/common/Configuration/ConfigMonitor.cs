using Microsoft.Extensions.Logging;

namespace Gateway.Common.Configuration;

// Holds the live configuration and swaps it atomically when the file changes. A request reads `Current`
// once and keeps that snapshot, so a reload never disturbs requests in flight. An invalid edit is logged
// and ignored: the previous configuration stays in force.
public sealed class ConfigMonitor : IDisposable
{
    private readonly string? _path;
    private readonly ILogger<ConfigMonitor> _logger;
    private readonly FileSystemWatcher? _watcher;
    private readonly Lock _reloadLock = new();
    private readonly Func<string, string?>? _environment;
    private Timer? _debounce;
    private volatile GatewayConfig _current;

    public ConfigMonitor(GatewayConfig initial, string? path, ILogger<ConfigMonitor> logger, Func<string, string?>? environment = null)
    {
        _current = initial;
        _path = path is null ? null : Path.GetFullPath(path);
        _logger = logger;
        _environment = environment;
        if (_path is not null && Path.GetDirectoryName(_path) is { } directory && Directory.Exists(directory))
        {
            _watcher = new FileSystemWatcher(directory, Path.GetFileName(_path))
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            _watcher.Changed += (_, _) => ScheduleReload();
            _watcher.Created += (_, _) => ScheduleReload();
            _watcher.Renamed += (_, _) => ScheduleReload();
            _watcher.EnableRaisingEvents = true;
        }
    }

    public GatewayConfig Current => _current;

    // Raised after a successful reload with the new configuration.
    public event Action<GatewayConfig>? Changed;

    // Editors write files in several steps; wait for the writes to settle before reading.
    private void ScheduleReload()
    {
        lock (_reloadLock)
        {
            _debounce?.Dispose();
            _debounce = new Timer(_ => Reload(), null, TimeSpan.FromMilliseconds(150), Timeout.InfiniteTimeSpan);
        }
    }

    public bool Reload()
    {
        if (_path is null)
        {
            return false;
        }
        lock (_reloadLock)
        {
            try
            {
                var next = ConfigLoader.Load(_path, _environment);
                _current = next;
                CommonLog.ConfigReloaded(_logger, _path);
                Changed?.Invoke(next);
                return true;
            }
            catch (ConfigException e)
            {
                CommonLog.ConfigReloadRejected(_logger, _path, e.Message);
                return false;
            }
        }
    }

    public void Dispose()
    {
        _watcher?.Dispose();
        _debounce?.Dispose();
    }
}
