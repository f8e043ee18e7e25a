using Gateway.Common.Configuration;
using Gateway.Common.Pricing;
using static Gateway.Common.Tests.Configuration.ConfigAssert;

namespace Gateway.Common.Tests.Configuration;

public sealed class BudgetConfigTests
{
    [Fact]
    public void Parse_IssueExample_BindsBudgetsAlertsAndRateLimits()
    {
        var config = ConfigLoader.Parse(ProviderAndModel + """

              gpt-4o-mini:
                targets: [{ provider: openai, model: gpt-4o-mini }]
            budgets:
              - name: ds-monthly
                scope: { team: data-science }
                limit_usd: 1000
                period: month
                timezone: Europe/Berlin
                alerts: [0.5, 0.8]
                downgrade: { at: 0.9, models: { gpt-4o: gpt-4o-mini } }
                hard_cap: true
            rate_limits:
              - { name: ds-rpm, scope: { team: data-science, environment: prod }, requests_per_minute: 60, concurrent_requests: 4 }
            alerts:
              webhook: https://hooks.example/alerts
            budget_settings: { lease_seconds: 120, default_max_tokens: 1024 }
            """, NoEnvironment);

        var budget = Assert.Single(config.Budgets);
        Assert.Equal(1000m, budget.LimitUsd);
        Assert.Equal([0.5, 0.8], budget.Alerts);
        Assert.Equal("gpt-4o-mini", budget.Downgrade!.Models["gpt-4o"]);
        Assert.Equal("data-science", budget.Scope.Team);
        Assert.Equal(4, config.RateLimits[0].ConcurrentRequests);
        Assert.Equal("https://hooks.example/alerts", config.Alerts.Webhook);
        Assert.Equal(120, config.BudgetSettings.LeaseSeconds);
    }

    [Fact]
    public void Validate_BadPeriod_NamesKeyPath()
        => Single(ProviderAndModel + "\nbudgets:\n  - { name: b, limit_usd: 5, period: year }\n", "budgets[0].period", "day, week or month");

    [Fact]
    public void Validate_DowngradeToUnknownModel_NamesKeyPath()
        => Single(ProviderAndModel + "\nbudgets:\n  - { name: b, limit_usd: 5, downgrade: { at: 0.9, models: { gpt-4o: nope } } }\n", "budgets[0].downgrade.models.gpt-4o", "not a configured model");

    [Fact]
    public void Validate_AlertAboveOne_NamesKeyPath()
        => Single(ProviderAndModel + "\nbudgets:\n  - { name: b, limit_usd: 5, alerts: [1.5] }\n", "budgets[0].alerts[0]", "fraction");

    [Fact]
    public void Validate_RateLimitWithoutLimits_NamesKeyPath()
        => Single(ProviderAndModel + "\nrate_limits:\n  - { name: r }\n", "rate_limits[0]", "sets no limit");

    [Fact]
    public void PriceTable_ConfigOverridesShippedAndSnapshotsFallBack()
    {
        Assert.Equal(2.50m, PriceTable.Lookup("gpt-4o-2024-08-06")!.Input);
        Assert.Equal(15.00m, PriceTable.Lookup("claude-sonnet-4-20250514")!.Output);
        var configured = new ModelConfig { Price = new PriceConfig { Input = 1, Output = 2 }, Targets = [new TargetConfig { Model = "gpt-4o" }] };
        Assert.Equal(1m, PriceTable.For("gpt-4o", configured)!.Input);
        Assert.Equal(0.15m, PriceTable.For("cheap", new ModelConfig { Targets = [new TargetConfig { Model = "gpt-4o-mini" }] })!.Input);
        Assert.Null(PriceTable.For("house-model", new ModelConfig { Targets = [new TargetConfig { Model = "meta-llama/Meta-Llama-3-70B-Instruct" }] }));
    }
}
