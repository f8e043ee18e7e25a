using StackExchange.Redis;

namespace Gateway.Budget.Store;

// One multiplexer per process, connected asynchronously at start-up. A synchronous Connect inside DI
// resolution ran on the first request: the whole first burst blocked pool threads on the singleton's
// lock, starved the pool, and its Redis commands timed out (503s) although Redis was fine.
public sealed class RedisConnection(ConfigurationOptions options) : IHostedService, IAsyncDisposable
{
    private readonly Lazy<Task<IConnectionMultiplexer>> _connection =
        new(async () => await ConnectionMultiplexer.ConnectAsync(options));

    public Task<IConnectionMultiplexer> GetAsync() => _connection.Value;

    // AbortOnConnectFail is off, so this returns once the first attempt is over even if Redis is down;
    // the multiplexer keeps reconnecting and budget checks answer 503 meanwhile.
    public Task StartAsync(CancellationToken cancellationToken) => GetAsync();

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_connection.IsValueCreated)
        {
            await (await _connection.Value).DisposeAsync();
        }
    }
}
