namespace Gateway.Common.Analytics;

// Count, mean and sample variance of one measure: all a Welch's t-test needs.
public readonly record struct Moments(long Count, double Mean, double Variance)
{
    public static Moments Of(IReadOnlyCollection<double> values)
    {
        var n = values.Count;
        if (n == 0)
        {
            return default;
        }
        var mean = values.Average();
        var variance = n > 1 ? values.Sum(v => (v - mean) * (v - mean)) / (n - 1) : 0;
        return new Moments(n, mean, variance);
    }
}

// What the trace store knows about one arm of a prompt experiment (traces with that experiment and arm):
// written by the traces stores, read by the experiment analysis in the prompts service.
public sealed record ArmSummary(
    string Arm,
    long Requests,
    long Errors,
    double LatencyP50Ms,
    double LatencyP95Ms,
    Moments LatencyMs,
    Moments CostUsd,
    Moments Tokens,
    long PositiveFeedback,
    Moments Score);
