using Gateway.Common.Configuration;
using Gateway.Common.Events;
using Gateway.Contracts.Prompts.V1;
using Gateway.Prompts.Store;

namespace Gateway.Prompts;

// Replicas sharing one store: reads the store's change counter every prompts.refresh_milliseconds and
// drops the cached labels when it moved, so a label moved anywhere (another replica, the sync command)
// takes effect here within that time even when the bus event does not arrive.
public sealed class PromptCacheRefresher(PromptStore store, PromptCatalog catalog, ConfigMonitor config, TimeProvider time, ILogger<PromptCacheRefresher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        long? seen = null;
        var failing = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var counter = await store.ChangeCounterAsync(stoppingToken);
                if (seen is { } previous && previous != counter)
                {
                    catalog.Invalidate(null);
                }
                seen = counter;
                failing = false;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                if (!failing)
                {
                    PromptsLog.RefreshFailed(logger, e);
                    failing = true;
                }
            }
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(config.Current.Prompts.RefreshMilliseconds), time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}

// The bus event (topic prompt-labels) from the replica that made a change: drop that prompt's cached labels now.
// The catalog is looked up on first use: it publishes on the bus, and the bus is built from its handlers.
public sealed class PromptChangedHandler(IServiceProvider services) : IEventHandler<PromptChanged>
{
    public string Topic => Topics.PromptLabels;

    public Task HandleAsync(PromptChanged message, CancellationToken cancellationToken)
    {
        services.GetRequiredService<PromptCatalog>().Invalidate(message.Name);
        return Task.CompletedTask;
    }
}

// For processes without a bus (the sync command): replicas see its changes through the change counter.
public sealed class DiscardEventBus : IEventBus
{
    public ValueTask PublishAsync<T>(string topic, T message, CancellationToken cancellationToken) where T : Google.Protobuf.IMessage<T> => ValueTask.CompletedTask;
}
