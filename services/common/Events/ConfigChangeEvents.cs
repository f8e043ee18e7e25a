using Gateway.Common.Configuration;
using Gateway.Contracts.Events.V1;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Gateway.Common.Events;

// A process that applies a new configuration says so on the bus; the others re-read their own file at once
// (a ConfigMap update reaches each pod's volume at its own pace). A re-read that finds nothing new changes
// nothing and announces nothing, so announcements cannot echo between services.
public sealed class ConfigChangeAnnouncer(ConfigMonitor monitor, IEventBus events, ServiceIdentity service, TimeProvider time, ILogger<ConfigChangeAnnouncer> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        monitor.Changed += OnChanged;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        monitor.Changed -= OnChanged;
        return Task.CompletedTask;
    }

    private async void OnChanged(GatewayConfig config)
    {
        var message = new ConfigChangedEvent
        {
            EventId = Guid.CreateVersion7().ToString("N"),
            Service = service.Name,
            Sha256 = monitor.LoadedSha256 ?? "",
            ChangedUnixMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };
        try
        {
            await events.PublishAsync(Topics.ConfigChanged, message, CancellationToken.None);
        }
        catch (Exception e)
        {
            // Announcing is a courtesy: every service still watches its own file.
            CommonLog.EventPublishFailed(logger, e, ConfigChangedEvent.Descriptor.FullName);
        }
    }
}

public sealed class ConfigChangedHandler(ConfigMonitor monitor, ServiceIdentity service) : IEventHandler<ConfigChangedEvent>
{
    public string Topic => Topics.ConfigChanged;

    public Task HandleAsync(ConfigChangedEvent message, CancellationToken cancellationToken)
    {
        if (message.Service != service.Name)
        {
            monitor.ReloadIfChanged();
        }
        return Task.CompletedTask;
    }
}

// This process's service name (edge/gateway, router, guard, …), as its logs and events name it.
public sealed record ServiceIdentity(string Name);
