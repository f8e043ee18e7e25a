using Gateway.Prompts.Experiments;

namespace Gateway.Prompts.Tests;

// Values from standard normal and Student's t tables, and worked textbook examples.
public sealed class StatisticsTests
{
    [Theory]
    [InlineData(0, 0.5)]
    [InlineData(1, 0.8413447460685429)]
    [InlineData(-1, 0.15865525393145707)]
    [InlineData(1.96, 0.9750021048517795)]
    [InlineData(2.5758293035489, 0.995)]
    [InlineData(-3, 0.0013498980316301)]
    [InlineData(5, 0.9999997133484281)]
    public void NormalCdf_TableValues(double z, double expected)
        => Assert.Equal(expected, Statistics.NormalCdf(z), 1e-12);

    [Theory]
    [InlineData(0.975, 1.959963984540054)]
    [InlineData(0.95, 1.6448536269514722)]
    [InlineData(0.5, 0)]
    public void NormalQuantile_TableValues(double p, double expected)
        => Assert.Equal(expected, Statistics.NormalQuantile(p), 1e-9);

    // t table: two-sided 95% critical values.
    [Theory]
    [InlineData(1, 12.706204736)]
    [InlineData(2, 4.302652730)]
    [InlineData(5, 2.570581836)]
    [InlineData(10, 2.228138852)]
    [InlineData(30, 2.042272456)]
    [InlineData(120, 1.979930405)]
    public void StudentTQuantile_TableValues(double df, double expected)
        => Assert.Equal(expected, Statistics.StudentTQuantile(0.975, df), 1e-6);

    [Theory]
    [InlineData(1, 1, 0.75)]
    [InlineData(2.228138852, 10, 0.975)]
    [InlineData(-2.570581836, 5, 0.025)]
    [InlineData(0, 3.7, 0.5)]
    public void StudentTCdf_TableValues(double t, double df, double expected)
        => Assert.Equal(expected, Statistics.StudentTCdf(t, df), 1e-9);

    // 50/100 against 60/100: pooled p = 0.55, SE = sqrt(0.55·0.45·0.02) = 0.0703562, z = 1.42134, p = 0.15522.
    [Fact]
    public void TwoProportion_WorkedExample()
    {
        var result = Statistics.TwoProportion(50, 100, 60, 100);

        Assert.Equal(0.1, result.Difference, 1e-12);
        Assert.Equal(1.4213381090374029, result.Statistic, 1e-9);
        Assert.Equal(0.15521, result.PValue, 1e-4);
        // Unpooled interval: 0.1 ± 1.95996 · sqrt(0.25/100 + 0.24/100) = 0.1 ± 0.137197.
        Assert.Equal(-0.037197, result.CiLow, 1e-5);
        Assert.Equal(0.237197, result.CiHigh, 1e-5);
    }

    // Two samples with unequal variances: a: mean 20, sd 4, n 10; b: mean 24, sd 8, n 20. Reference values
    // computed independently at 30 digits (mpmath betainc): df = 27.98182, t = 1.825742, p = 0.07857959,
    // t(0.975, df) = 2.048467, so the 95% interval is 4 ± 4.487967.
    [Fact]
    public void Welch_WorkedExample()
    {
        var result = Statistics.Welch(20, 16, 10, 24, 64, 20);

        Assert.Equal(4, result.Difference, 1e-12);
        Assert.Equal(1.82574185835055, result.Statistic, 1e-12);
        Assert.Equal(27.9818181818182, result.DegreesOfFreedom, 1e-9);
        Assert.Equal(0.0785795878691338, result.PValue, 1e-9);
        Assert.Equal(4 - 4.48796657153346, result.CiLow, 1e-7);
        Assert.Equal(4 + 4.48796657153346, result.CiHigh, 1e-7);
    }

    [Fact]
    public void Analyze_FewerThanMinimumSamples_SaysNoDifferenceYetEvenWhenSignificant()
    {
        var experiment = new Contracts.Prompts.V1.Experiment { Id = "e", Arms = { new Contracts.Prompts.V1.Arm { Name = "a", Version = 1, Weight = 1 }, new Contracts.Prompts.V1.Arm { Name = "b", Version = 2, Weight = 1 } } };
        var a = new Common.Analytics.ArmSummary("a", 50, 25, 100, 200, new(50, 100, 10), new(50, 0.01, 0), new(50, 10, 1), 0, default);
        var b = new Common.Analytics.ArmSummary("b", 50, 0, 100, 200, new(50, 100, 10), new(50, 0.01, 0), new(50, 10, 1), 0, default);

        var few = ExperimentAnalysis.Analyze(experiment, [a, b], minSamples: 100);
        var enough = ExperimentAnalysis.Analyze(experiment, [a, b], minSamples: 50);

        Assert.Equal("no difference yet", few.Verdict);
        Assert.True(few.Comparisons[0].Metrics.Single(m => m.Metric == "error_rate").Significant);
        Assert.Equal("B better", enough.Verdict);
    }
}
