using System.Threading.Channels;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Gateway.Mcp.Upstreams;

// Sees every message from an upstream in the order it arrived, before the SDK dispatches it. The SDK
// dispatches messages concurrently, so a progress notification sent just before a tool's result could
// otherwise be handled after the result; relaying from here keeps notifications ahead of the response.
internal sealed class ObservedClientTransport(IClientTransport inner, Action<JsonRpcMessage> observe) : IClientTransport
{
    public string Name => inner.Name;

    public async Task<ITransport> ConnectAsync(CancellationToken cancellationToken)
        => new ObservedTransport(await inner.ConnectAsync(cancellationToken), observe);

    private sealed class ObservedTransport : ITransport
    {
        private readonly ITransport _inner;
        private readonly Channel<JsonRpcMessage> _messages = Channel.CreateUnbounded<JsonRpcMessage>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        private readonly Task _pump;

        public ObservedTransport(ITransport inner, Action<JsonRpcMessage> observe)
        {
            _inner = inner;
            _pump = Task.Run(async () =>
            {
                try
                {
                    await foreach (var message in inner.MessageReader.ReadAllAsync())
                    {
                        observe(message);
                        await _messages.Writer.WriteAsync(message);
                    }
                    _messages.Writer.TryComplete();
                }
                catch (Exception error) when (error is not OutOfMemoryException)
                {
                    _messages.Writer.TryComplete(error);
                }
            });
        }

        public string? SessionId => _inner.SessionId;

        public ChannelReader<JsonRpcMessage> MessageReader => _messages.Reader;

        public Task SendMessageAsync(JsonRpcMessage message, CancellationToken cancellationToken = default)
            => _inner.SendMessageAsync(message, cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await _inner.DisposeAsync();
            await _pump;
        }
    }
}
