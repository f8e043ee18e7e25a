using System.Threading.Channels;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Gateway.Common.Events;

// Events between services. In the mesh this is Dapr pub/sub; embedded it is an in-process channel that
// delivers to the same handlers the Dapr subscription endpoints call.
public interface IEventBus
{
    ValueTask PublishAsync<T>(string topic, T message, CancellationToken cancellationToken) where T : IMessage<T>;
}

public interface IEventHandler<in T> where T : IMessage<T>
{
    string Topic { get; }

    Task HandleAsync(T message, CancellationToken cancellationToken);
}

// A handler that never waits on I/O it does not own (it only hands the event on, durably) and so is called
// in-process at publish time rather than from the bus's queue: what it takes is safe before the publisher goes
// on, so a process killed a moment later has lost nothing. The trace ingestor is one (its journal).
public interface IInlineEventHandler;

// The events the gateway publishes, by name. `services.topics.<name>` can map a name onto another topic in
// the mesh; the name is also the default topic. Payloads are protobuf messages; one with an `event_id` field
// is published under that id (TraceEvent under its request id), so subscribers deduplicate redeliveries.
public static class Topics
{
    public const string Traces = "traces";
    // One row of the MCP gateway's audit log: stored by the traces service next to the request traces.
    public const string McpAudit = "mcp-audit";
    // A prompt's label (production, staging, …) now points at another version: payload defined by the prompts service.
    public const string PromptLabels = "prompt-labels";
    public const string Feedback = "feedback";
    public const string BudgetUsage = "budget-usage";
    public const string ConfigChanged = "config-changed";

    public static readonly IReadOnlyList<string> All = [Traces, McpAudit, PromptLabels, BudgetUsage, ConfigChanged];
}

// Bounded so a slow consumer cannot grow memory without limit; when full, publishers wait (backpressure)
// rather than drop, because a dropped trace is a lost trace.
public sealed class InProcessEventBus : BackgroundService, IEventBus
{
    private readonly Channel<(string Topic, IMessage Message)> _channel =
        Channel.CreateBounded<(string, IMessage)>(new BoundedChannelOptions(10_000) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Dictionary<string, List<Func<IMessage, CancellationToken, Task>>> _handlers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<Func<IMessage, CancellationToken, Task>>> _inline = new(StringComparer.Ordinal);
    private readonly ILogger<InProcessEventBus> _logger;

    public InProcessEventBus(IServiceProvider services, ILogger<InProcessEventBus> logger)
    {
        _logger = logger;
        foreach (var registration in services.GetServices<EventHandlerRegistration>())
        {
            var handlers = registration.Inline ? _inline : _handlers;
            if (!handlers.TryGetValue(registration.Topic, out var list))
            {
                handlers[registration.Topic] = list = [];
            }
            list.Add(registration.Invoke);
        }
    }

    public ValueTask PublishAsync<T>(string topic, T message, CancellationToken cancellationToken) where T : IMessage<T>
    {
        if (_inline.TryGetValue(topic, out var inline))
        {
            return PublishInlineAsync(inline, topic, message, cancellationToken);
        }
        return _channel.Writer.WriteAsync((topic, message), cancellationToken);
    }

    private async ValueTask PublishInlineAsync(List<Func<IMessage, CancellationToken, Task>> inline, string topic, IMessage message, CancellationToken cancellationToken)
    {
        foreach (var handler in inline)
        {
            try
            {
                await handler(message, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                CommonLog.EventHandlerFailed(_logger, e, topic);
            }
        }
        if (_handlers.ContainsKey(topic))
        {
            await _channel.Writer.WriteAsync((topic, message), cancellationToken);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var (topic, message) in _channel.Reader.ReadAllAsync(stoppingToken))
        {
            if (!_handlers.TryGetValue(topic, out var handlers))
            {
                continue;
            }
            foreach (var handler in handlers)
            {
                try
                {
                    await handler(message, stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    CommonLog.EventHandlerFailed(_logger, e, topic);
                }
            }
        }
    }
}

// Registered per handler so the bus can dispatch without reflection on the hot path; the parser reads the
// payload when it arrives over Dapr.
public sealed record EventHandlerRegistration(string Topic, MessageParser Parser, Func<IMessage, CancellationToken, Task> Invoke)
{
    // Called at publish time in-process (IInlineEventHandler).
    public bool Inline { get; init; }
}

public static class EventBusRegistration
{
    public static IServiceCollection AddEventHandler<THandler, TMessage>(this IServiceCollection services)
        where THandler : class, IEventHandler<TMessage>
        where TMessage : IMessage<TMessage>
    {
        services.AddSingleton<THandler>();
        services.AddSingleton(sp =>
        {
            var handler = sp.GetRequiredService<THandler>();
            var parser = (MessageParser)typeof(TMessage).GetProperty("Parser")!.GetValue(null)!;
            return new EventHandlerRegistration(handler.Topic, parser, (message, ct) => handler.HandleAsync((TMessage)message, ct)) { Inline = handler is IInlineEventHandler };
        });
        return services;
    }
}
