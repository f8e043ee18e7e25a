using DotNet.Testcontainers.Builders;
using Gateway.Testing.Servers;
using Gateway.Traces.Tests.ClickHouse;

namespace Gateway.Traces.Tests;

// The choice between a Testcontainers container and a local server (ExternalServer): made quickly, and the same
// choice Testcontainers itself makes. On a machine without a Docker engine every container start is refused by
// Testcontainers before anything is pulled, and the fixtures take the local path.
public sealed class ExternalServerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task DockerProbe_AnswersWithinItsDeadline_AndAgreesWithTestcontainers()
    {
        var probe = await ExternalServer.ProbeAsync(TimeSpan.FromSeconds(5));

        Assert.True(probe.Took < TimeSpan.FromSeconds(7), $"the probe took {probe.Took}");
        Assert.NotEmpty(probe.Detail);
        var refusal = Record.Exception(() => new ContainerBuilder(ClickHouseContainer.Image).Build());
        if (probe.Available)
        {
            Assert.Null(refusal);
        }
        else
        {
            Assert.IsType<DockerUnavailableException>(refusal);
        }
        // Where nothing could answer (no DOCKER_HOST, no engine socket, no Testcontainers configuration file), as on
        // the shared development machine: unavailable, not a hang.
        if (Environment.GetEnvironmentVariable("DOCKER_HOST") is null && !File.Exists("/var/run/docker.sock")
            && !File.Exists(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".testcontainers.properties")))
        {
            Assert.False(probe.Available, probe.Detail);
        }
    }

    [Fact]
    public async Task StartAsync_TakesTheContainerPathOnlyWhenDockerAnswers()
    {
        var docker = await ExternalServer.DockerAsync();

        var chosen = await ExternalServer.StartAsync("probe", _ => Task.FromResult("container"), () => Task.FromResult("local"));

        Assert.Equal(docker.Available ? "container" : "local", chosen);
    }

    // The container paths of every fixture run up to Testcontainers' own Docker check; without an engine, that
    // check refuses them (with Docker, the fixtures' own tests run them for real).
    [Fact]
    public async Task ContainerPaths_WithoutDocker_RefusedByTestcontainers()
    {
        if ((await ExternalServer.DockerAsync()).Available)
        {
            await using var redis = await RedisServer.StartContainerAsync(Ct);
            Assert.StartsWith("redis://", redis.Uri, StringComparison.Ordinal);
            return;
        }
        await Assert.ThrowsAsync<DockerUnavailableException>(() => ClickHouseContainer.StartAsync(Ct));
        await Assert.ThrowsAsync<DockerUnavailableException>(() => RedisServer.StartContainerAsync(Ct));
        await Assert.ThrowsAsync<DockerUnavailableException>(() => PostgresServer.StartContainerAsync(Ct));
    }
}
