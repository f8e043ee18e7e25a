using System.Collections.Concurrent;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Contracts.Common.V1;

namespace Gateway.Router.Pipeline;

// Caps the streaming responses held open at once (server.limits.max_concurrent_streams, and per key
// max_concurrent_streams_per_key): a stream pins a connection, a provider call and memory for minutes, so a
// client that opens thousands must be refused (429) before they starve everyone else. Counts are per process.
public sealed class StreamSlots(ConfigMonitor config)
{
    private readonly ConcurrentDictionary<string, int> _perKey = new(StringComparer.Ordinal);
    private int _total;

    // A slot for one stream, released by disposing it; throws RateLimited when a cap is reached.
    public Slot Acquire(Principal principal)
    {
        var limits = config.Current.Server.Limits;
        var key = principal.KeyName;
        if (Interlocked.Increment(ref _total) is var total && limits.MaxConcurrentStreams > 0 && total > limits.MaxConcurrentStreams)
        {
            Interlocked.Decrement(ref _total);
            throw Refusal($"The gateway is serving its limit of {limits.MaxConcurrentStreams} concurrent streaming responses; retry shortly.");
        }
        var perKey = _perKey.AddOrUpdate(key, 1, (_, count) => count + 1);
        if (limits.MaxConcurrentStreamsPerKey > 0 && perKey > limits.MaxConcurrentStreamsPerKey)
        {
            Release(key);
            throw Refusal($"Key '{key}' already has {limits.MaxConcurrentStreamsPerKey} streaming responses open, its limit; finish one or retry shortly.");
        }
        return new Slot(this, key);
    }

    private void Release(string key)
    {
        Interlocked.Decrement(ref _total);
        // Drop the entry at zero so keys that stopped streaming do not accumulate.
        if (_perKey.AddOrUpdate(key, 0, (_, count) => count - 1) <= 0)
        {
            _perKey.TryRemove(new KeyValuePair<string, int>(key, 0));
        }
    }

    private static GatewayException Refusal(string message)
        => new(ErrorKind.RateLimited, message, code: "concurrent_streams_exceeded") { RetryAfterSeconds = 1 };

    public sealed class Slot(StreamSlots owner, string key) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.Release(key);
            }
        }
    }
}
