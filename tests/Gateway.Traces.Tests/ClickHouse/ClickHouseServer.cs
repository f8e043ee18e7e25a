using System.Globalization;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Containers;
using Gateway.Testing.Servers;

namespace Gateway.Traces.Tests.ClickHouse;

// A real, current ClickHouse for tests, chosen by ExternalServer: the `clickhouse/clickhouse-server` image where a
// Docker engine answers, else the chdb engine behind tests/tools/chdb-http.js. Either way the real
// ClickHouse.Driver talks to ClickHouse's HTTP interface.
public abstract class ClickHouseServer : IAsyncDisposable
{
    public static Task<ClickHouseServer> StartAsync()
        => ExternalServer.StartAsync<ClickHouseServer>("ClickHouse", async ct => await ClickHouseContainer.StartAsync(ct), async () => await ChdbServer.StartLocalAsync(), "chdb engine (tests/tools/chdb-http.js)");

    // clickhouse://user:password@host:port/database
    public abstract string Uri(string database);

    // Takes the store away (clients get "connection refused") or brings it back with its data.
    public abstract Task SetAvailableAsync(bool available);

    public abstract ValueTask DisposeAsync();
}

// ClickHouse in a container (no ClickHouse module package exists for Testcontainers: the generic builder). The
// host port is fixed at start so that stopping and starting the container (an outage) keeps the address.
public sealed class ClickHouseContainer : ClickHouseServer
{
    public const string Image = "clickhouse/clickhouse-server:25.8";
    private const ushort HttpPort = 8123;
    private const string User = "gateway";
    private const string Password = "gateway-test";

    private readonly IContainer _container;
    private readonly int _port;

    private ClickHouseContainer(IContainer container, int port)
    {
        _container = container;
        _port = port;
    }

    public static async Task<ClickHouseContainer> StartAsync(CancellationToken cancellationToken)
    {
        var port = FreePort.Get();
        var container = new ContainerBuilder(Image)
            .WithPortBinding(port, HttpPort)
            .WithEnvironment("CLICKHOUSE_USER", User)
            .WithEnvironment("CLICKHOUSE_PASSWORD", Password)
            .WithEnvironment("CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT", "1")
            .WithWaitStrategy(Wait.ForUnixContainer().UntilHttpRequestIsSucceeded(request => request.ForPort(HttpPort).ForPath("/ping")))
            .Build();
        await container.StartAsync(cancellationToken);
        return new ClickHouseContainer(container, port);
    }

    public override string Uri(string database) => string.Create(CultureInfo.InvariantCulture, $"clickhouse://{User}:{Password}@{_container.Hostname}:{_port}/{database}");

    public override Task SetAvailableAsync(bool available) => available ? _container.StartAsync() : _container.StopAsync();

    public override ValueTask DisposeAsync() => _container.DisposeAsync();
}
