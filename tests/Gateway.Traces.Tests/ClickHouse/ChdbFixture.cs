using Gateway.Common.Configuration;
using Gateway.Traces.Storage;

[assembly: AssemblyFixture(typeof(Gateway.Traces.Tests.ClickHouse.ChdbFixture))]

namespace Gateway.Traces.Tests.ClickHouse;

// One chdb engine for the assembly (loading libchdb.so costs seconds); each test uses its own database.
public sealed class ChdbFixture : IAsyncLifetime
{
    private ChdbServer? _server;
    private Exception? _failure;
    private int _databases;

    public ChdbServer Server => _server ?? throw new InvalidOperationException("chdb did not start", _failure);

    public async ValueTask InitializeAsync()
    {
        if (ChdbServer.MissingReason() is not null && Environment.GetEnvironmentVariable("CI") is not { Length: > 0 })
        {
            return;
        }
        try
        {
            _server = await ChdbServer.StartAsync();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Reported by the tests that need it (a skip on a laptop without npm packages, a failure in CI).
            _failure = e;
        }
    }

    public ChdbServer Require()
    {
        if (_server is null && _failure is null && ChdbServer.MissingReason() is { } reason)
        {
            Assert.Skip(reason);
        }
        return Server;
    }

    public string NewDatabase() => $"gw_test_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid():N}"[..24];

    public async Task<ClickHouseTraceStore> NewStoreAsync(int retentionDays = 30, TimeProvider? time = null)
    {
        var store = ClickHouseTraceStore.Open(Require().Uri(NewDatabase()), retentionDays, time ?? TimeProvider.System);
        await store.MigrateAsync(TestContext.Current.CancellationToken);
        return store;
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
