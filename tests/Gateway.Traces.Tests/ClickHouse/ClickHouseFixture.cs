using Gateway.Testing.Servers;
using Gateway.Traces.Storage;

[assembly: AssemblyFixture(typeof(Gateway.Traces.Tests.ClickHouse.ClickHouseFixture))]

namespace Gateway.Traces.Tests.ClickHouse;

// One ClickHouse for the assembly (a container, or chdb: loading libchdb.so costs seconds); each test uses its own
// database.
public sealed class ClickHouseFixture : IAsyncLifetime
{
    private ClickHouseServer? _server;
    private Exception? _failure;
    private string? _missing;
    private int _databases;

    public ClickHouseServer Server => _server ?? throw new InvalidOperationException("ClickHouse did not start", _failure);

    public async ValueTask InitializeAsync()
    {
        // Without Docker and without the npm packages on a developer laptop, the tests that need it skip.
        if (!(await ExternalServer.DockerAsync()).Available && ChdbServer.MissingReason() is { } reason && Environment.GetEnvironmentVariable("CI") is not { Length: > 0 })
        {
            _missing = reason;
            return;
        }
        try
        {
            _server = await ClickHouseServer.StartAsync();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Reported by the tests that need it.
            _failure = e;
        }
    }

    public ClickHouseServer Require()
    {
        if (_missing is not null)
        {
            Assert.Skip(_missing);
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
