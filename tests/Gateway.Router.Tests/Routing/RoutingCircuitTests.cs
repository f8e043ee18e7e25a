using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Router.Routing;
using Microsoft.Extensions.Time.Testing;
using Polly;
using Polly.CircuitBreaker;

namespace Gateway.Router.Tests.Routing;

// The per-deployment Polly pipeline: the breaker opens on the failure ratio, half-opens after the break with
// a probe, and closes again; time is FakeTimeProvider's, never a sleep.
public sealed class RoutingCircuitTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1_760_000_000));

    private static readonly RoutingPolicyConfig Policy = new()
    {
        CircuitBreaker = new CircuitBreakerConfig { FailureRatio = 0.5, MinimumThroughput = 4, SamplingSeconds = 30, BreakSeconds = 20 },
    };

    private static GatewayException ServerError() => new(ErrorKind.UpstreamError, "failed (status 503).") { UpstreamStatus = 503 };

    [Fact]
    public async Task CircuitBreaker_FailureRatioReached_OpensThenHalfOpensAndRecovers()
    {
        using var pipelines = new ResiliencePipelines(_time);
        var entry = pipelines.Get("test", Policy, "p/m");
        var calls = 0;
        ValueTask<string> Fail(CancellationToken _)
        {
            calls++;
            throw ServerError();
        }
        ValueTask<string> Succeed(CancellationToken _)
        {
            calls++;
            return ValueTask.FromResult("ok");
        }

        for (var i = 0; i < 4; i++)
        {
            await Assert.ThrowsAsync<GatewayException>(() => entry.Pipeline.ExecuteAsync(Fail, TestContext.Current.CancellationToken).AsTask());
        }
        Assert.Equal(CircuitState.Open, entry.Circuit!.CircuitState);

        // Open: the deployment is not called at all.
        await Assert.ThrowsAsync<BrokenCircuitException>(() => entry.Pipeline.ExecuteAsync(Succeed, TestContext.Current.CancellationToken).AsTask());
        Assert.Equal(4, calls);

        // After the break one probe goes through; it succeeds and the circuit closes.
        _time.Advance(TimeSpan.FromSeconds(21));
        Assert.Equal("ok", await entry.Pipeline.ExecuteAsync(Succeed, TestContext.Current.CancellationToken));
        Assert.Equal(5, calls);
        Assert.Equal(CircuitState.Closed, entry.Circuit.CircuitState);
    }

    [Fact]
    public async Task CircuitBreaker_ProbeFails_OpensAgain()
    {
        using var pipelines = new ResiliencePipelines(_time);
        var entry = pipelines.Get("test", Policy, "p/m");
        for (var i = 0; i < 4; i++)
        {
            await Assert.ThrowsAsync<GatewayException>(() => entry.Pipeline.ExecuteAsync<string>(_ => throw ServerError(), TestContext.Current.CancellationToken).AsTask());
        }

        _time.Advance(TimeSpan.FromSeconds(21));
        await Assert.ThrowsAsync<GatewayException>(() => entry.Pipeline.ExecuteAsync<string>(_ => throw ServerError(), TestContext.Current.CancellationToken).AsTask());

        Assert.Equal(CircuitState.Open, entry.Circuit!.CircuitState);
    }

    [Fact]
    public async Task CircuitBreaker_ClientErrors_NeverOpenIt()
    {
        using var pipelines = new ResiliencePipelines(_time);
        var entry = pipelines.Get("test", Policy, "p/m");
        for (var i = 0; i < 10; i++)
        {
            await Assert.ThrowsAsync<GatewayException>(() => entry.Pipeline.ExecuteAsync<string>(_ => throw GatewayException.BadRequest("bad"), TestContext.Current.CancellationToken).AsTask());
            await Assert.ThrowsAsync<GatewayException>(() => entry.Pipeline.ExecuteAsync<string>(_ => throw new GatewayException(ErrorKind.ContextLengthExceeded, "too long"), TestContext.Current.CancellationToken).AsTask());
        }

        Assert.Equal(CircuitState.Closed, entry.Circuit!.CircuitState);
    }

    [Fact]
    public void Get_SamePolicy_CachedAndRebuiltForANewPolicyObject()
    {
        using var pipelines = new ResiliencePipelines(_time);
        var first = pipelines.Get("test", Policy, "p/m");

        Assert.Same(first, pipelines.Get("test", Policy, "p/m"));
        Assert.NotSame(first, pipelines.Get("test", Policy with { }, "p/m"));
        Assert.NotSame(pipelines.Get("test", Policy, "p/other"), first);
    }

    [Fact]
    public async Task Retry_ServerErrorThenSuccess_RetriesSameDeployment()
    {
        using var pipelines = new ResiliencePipelines(_time);
        var entry = pipelines.Get("test", new RoutingPolicyConfig { Retry = new RetryConfig { MaxAttempts = 2, BaseDelayMs = 100, MaxDelayMs = 1000 } }, "p/m");
        var calls = 0;

        var run = entry.Pipeline.ExecuteAsync(_ => ++calls == 1 ? throw ServerError() : ValueTask.FromResult("ok"), TestContext.Current.CancellationToken).AsTask();
        // The jittered backoff waits on the fake clock: move it until the retry has run.
        while (!run.IsCompleted)
        {
            _time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Yield();
        }

        Assert.Equal("ok", await run);
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Retry_RetryAfterLongerThanMaxDelay_FailsOverInsteadOfWaiting()
    {
        using var pipelines = new ResiliencePipelines(_time);
        var entry = pipelines.Get("test", new RoutingPolicyConfig { Retry = new RetryConfig { MaxAttempts = 3, BaseDelayMs = 100, MaxDelayMs = 1000 } }, "p/m");
        var calls = 0;

        var error = await Assert.ThrowsAsync<GatewayException>(() => entry.Pipeline.ExecuteAsync<string>(_ =>
        {
            calls++;
            throw new GatewayException(ErrorKind.UpstreamRateLimited, "slow down") { UpstreamStatus = 429, RetryAfterSeconds = 30 };
        }, TestContext.Current.CancellationToken).AsTask());

        Assert.Equal(ErrorKind.UpstreamRateLimited, error.Kind);
        Assert.Equal(1, calls);
    }
}
