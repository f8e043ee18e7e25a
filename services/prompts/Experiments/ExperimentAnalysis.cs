using Gateway.Common.Analytics;
using Gateway.Contracts.Prompts.V1;

namespace Gateway.Prompts.Experiments;

public sealed record MetricComparison(string Metric, string Test, bool LowerIsBetter, TestResult Result, bool Significant, string Better);

public sealed record ArmComparison(string A, string B, bool EnoughSamples, string Verdict, string DecidedBy, IReadOnlyList<MetricComparison> Metrics);

public sealed record ExperimentReport(Experiment Experiment, IReadOnlyList<ArmSummary> Arms, IReadOnlyList<ArmComparison> Comparisons, string Verdict);

// Each arm against the first (the control): error rate and positive feedback by two-proportion z-test;
// latency, cost, tokens and feedback score by Welch's t-test. The verdict follows the feedback score when both
// arms have enough scores, else the error rate; until every arm has min_samples_per_arm requests (and
// scores, for the score) it is "no difference yet", however small the p-value.
public static class ExperimentAnalysis
{
    public const string NoDifference = "no difference yet";
    public const double Alpha = 0.05;

    public static ExperimentReport Analyze(Experiment experiment, IReadOnlyList<ArmSummary> observed, int minSamples)
    {
        var arms = experiment.Arms.Select(arm => observed.FirstOrDefault(o => o.Arm == arm.Name) ?? new ArmSummary(arm.Name, 0, 0, 0, 0, default, default, default, 0, default)).ToList();
        var comparisons = new List<ArmComparison>();
        for (var i = 1; i < arms.Count; i++)
        {
            comparisons.Add(Compare(arms[0], arms[i], minSamples));
        }
        return new ExperimentReport(experiment, arms, comparisons, comparisons.Count == 1 ? comparisons[0].Verdict : Summary(comparisons));
    }

    private static ArmComparison Compare(ArmSummary a, ArmSummary b, int minSamples)
    {
        var metrics = new List<MetricComparison>();
        if (a.Requests > 0 && b.Requests > 0)
        {
            metrics.Add(Metric("error_rate", "two-proportion z", lowerIsBetter: true, Statistics.TwoProportion(a.Errors, a.Requests, b.Errors, b.Requests)));
        }
        foreach (var (name, ma, mb) in new[] { ("latency_ms", a.LatencyMs, b.LatencyMs), ("cost_usd", a.CostUsd, b.CostUsd), ("tokens", a.Tokens, b.Tokens) })
        {
            if (ma.Count > 1 && mb.Count > 1)
            {
                metrics.Add(Metric(name, "welch t", lowerIsBetter: true, Statistics.Welch(ma.Mean, ma.Variance, ma.Count, mb.Mean, mb.Variance, mb.Count)));
            }
        }
        if (a.Score.Count > 0 && b.Score.Count > 0)
        {
            metrics.Add(Metric("positive_feedback", "two-proportion z", lowerIsBetter: false, Statistics.TwoProportion(a.PositiveFeedback, a.Score.Count, b.PositiveFeedback, b.Score.Count)));
        }
        if (a.Score.Count > 1 && b.Score.Count > 1)
        {
            metrics.Add(Metric("score", "welch t", lowerIsBetter: false, Statistics.Welch(a.Score.Mean, a.Score.Variance, a.Score.Count, b.Score.Mean, b.Score.Variance, b.Score.Count)));
        }
        var enough = a.Requests >= minSamples && b.Requests >= minSamples;
        var byScore = a.Score.Count >= minSamples && b.Score.Count >= minSamples;
        var decidedBy = byScore ? "score" : "error_rate";
        var deciding = metrics.FirstOrDefault(m => m.Metric == decidedBy);
        var verdict = enough && deciding is { Significant: true } ? deciding.Better + " better" : NoDifference;
        return new ArmComparison(a.Arm, b.Arm, enough, verdict, decidedBy, metrics);
    }

    private static MetricComparison Metric(string name, string test, bool lowerIsBetter, TestResult result)
    {
        var significant = result.PValue < Alpha && result.Difference != 0;
        // Difference is B - A: for a lower-is-better measure a negative difference favours B.
        var better = !significant ? "" : (result.Difference < 0) == lowerIsBetter ? "B" : "A";
        return new MetricComparison(name, test, lowerIsBetter, result, significant, better);
    }

    private static string Summary(List<ArmComparison> comparisons)
        => comparisons.Any(c => c.Verdict != NoDifference)
            ? string.Join("; ", comparisons.Where(c => c.Verdict != NoDifference).Select(c => $"{c.B} vs {c.A}: {c.Verdict}"))
            : NoDifference;
}
