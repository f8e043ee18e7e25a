using Gateway.Common.Configuration;
using static Gateway.Budget.Tests.LedgerHarness;

namespace Gateway.Budget.Tests;

public sealed class RateLimitTests
{
    private static GatewayConfig Limits(RateLimitConfig limit) => Config1() with { RateLimits = [limit] };

    [Fact]
    public async Task Reserve_OverRequestsPerMinute_RefusesWithRetryAfterToNextWindow()
    {
        await using var harness = new LedgerHarness(Limits(new RateLimitConfig { Name = "ds-rpm", Scope = new ScopeConfig { Team = "data-science" }, RequestsPerMinute = 3 }));
        harness.Time.SetUtcNow(new DateTimeOffset(2026, 3, 14, 12, 0, 45, TimeSpan.Zero));
        for (var i = 0; i < 3; i++)
        {
            var ok = await harness.ReserveAsync(0);
            Assert.True(ok.Admitted);
            Assert.Equal(3, ok.RateLimit.LimitRequests);
            Assert.Equal(2 - i, ok.RateLimit.RemainingRequests);
        }

        var refused = await harness.ReserveAsync(0);

        Assert.False(refused.Admitted);
        Assert.Equal("rate_limit_exceeded", refused.Reason);
        Assert.Equal(15, refused.RetryAfterSeconds);
        Assert.Contains("ds-rpm", refused.Message, StringComparison.Ordinal);
        harness.Time.Advance(TimeSpan.FromSeconds(15));
        Assert.True((await harness.ReserveAsync(0)).Admitted);
    }

    [Fact]
    public async Task Reserve_OverTokensPerMinute_Refuses()
    {
        await using var harness = new LedgerHarness(Limits(new RateLimitConfig { Name = "ds-tpm", Scope = new ScopeConfig { Team = "data-science" }, TokensPerMinute = 1000 }));
        Assert.True((await harness.ReserveAsync(0, tokens: 600)).Admitted);

        var refused = await harness.ReserveAsync(0, tokens: 600);

        Assert.False(refused.Admitted);
        Assert.Equal("rate_limit_exceeded", refused.Reason);
        Assert.Contains("tokens per minute", refused.Message, StringComparison.Ordinal);
        Assert.True((await harness.ReserveAsync(0, tokens: 400)).Admitted);
    }

    [Fact]
    public async Task Reserve_OverConcurrency_RefusesUntilOneSettles()
    {
        await using var harness = new LedgerHarness(Limits(new RateLimitConfig { Name = "ds-conc", Scope = new ScopeConfig { Team = "data-science" }, ConcurrentRequests = 2 }));
        var first = await harness.ReserveAsync(0);
        var second = await harness.ReserveAsync(0);
        Assert.True(first.Admitted && second.Admitted);

        var refused = await harness.ReserveAsync(0);
        Assert.False(refused.Admitted);
        Assert.Equal(1, refused.RetryAfterSeconds);

        await harness.SettleAsync(first, 0);
        Assert.True((await harness.ReserveAsync(0)).Admitted);
    }

    [Fact]
    public async Task Reserve_BudgetRefusal_DoesNotConsumeRateLimit()
    {
        var config = Config1(NewBudget(limit: 1m)) with { RateLimits = [new RateLimitConfig { Name = "rpm", RequestsPerMinute = 2 }] };
        await using var harness = new LedgerHarness(config);
        Assert.False((await harness.ReserveAsync(5)).Admitted);
        Assert.True((await harness.ReserveAsync(0.1)).Admitted);
        Assert.True((await harness.ReserveAsync(0.1)).Admitted);
        Assert.Equal("rate_limit_exceeded", (await harness.ReserveAsync(0.1)).Reason);
    }
}
