using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Gateway.Load.Harness;

/// <summary>The run as a markdown table (for docs/performance.md) and as JSON (for tooling), with the targets checked.</summary>
public sealed class Report(HarnessOptions options, IReadOnlyList<TargetResult> results)
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private TargetResult? Find(string name) => results.FirstOrDefault(r => r.Target == name);

    public string Json() => JsonSerializer.Serialize(new
    {
        options.DurationSeconds,
        options.Rate,
        Machine = new { Environment.ProcessorCount, Os = Environment.OSVersion.VersionString },
        Results = results.Select(r => new
        {
            r,
            AddedP50Ms = Added(r, d => d.P50Ms),
            AddedP99Ms = Added(r, d => d.P99Ms),
            AddedStreamTtfbP50Ms = Added(r, d => d.StreamTtfbP50Ms),
            CpuRatioToPassthrough = CpuRatio(r),
        }),
        Checks = Checks().Select(c => new { c.Name, c.Value, c.Pass }),
    }, Indented);

    public string Markdown()
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"Warm-up {options.WarmupSeconds} s, then {options.DurationSeconds} s per phase, steady rate {options.Rate} requests/s, {options.StreamSamples} streaming samples; target on core 0, wrk and the fake upstream on core 1.");
        md.AppendLine();
        md.AppendLine("| target | req/s (saturation) | CPU µs/req | CPU × pass-through | steady req/s | p50 ms | p90 ms | p99 ms | added p50 ms | added p99 ms | stream TTFB p50 ms | added TTFB p50 ms | peak RSS MB | errors |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in results)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Target} | {F(r.SaturationRps, "0")} | {F(r.CpuMicrosecondsPerRequest, "0")} | {F(CpuRatio(r), "0.00")} | {r.RateAchieved:0} | {r.P50Ms:0.000} | {r.P90Ms:0.000} | {r.P99Ms:0.000} | {F(Added(r, d => d.P50Ms), "0.000")} | {F(Added(r, d => d.P99Ms), "0.000")} | {r.StreamTtfbP50Ms:0.000} | {F(Added(r, d => d.StreamTtfbP50Ms), "0.000")} | {F(r.PeakRssMb, "0")} | {r.Errors} |");
        }
        md.AppendLine();
        md.AppendLine("| target check | value | met |");
        md.AppendLine("|---|---|---|");
        foreach (var check in Checks())
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {check.Name} | {check.Value} | {(check.Pass ? "yes" : "no")} |");
        }
        return md.ToString();
    }

    private sealed record Check(string Name, string Value, bool Pass);

    // The issue's targets, for the fullest gateway configuration that ran.
    private IEnumerable<Check> Checks()
    {
        var gateway = Find("governed") ?? Find("gateway");
        if (gateway is null)
        {
            yield break;
        }
        var label = gateway.Target;
        if (gateway.CpuMicrosecondsPerRequest is { } cpu)
        {
            yield return new($"{label}: CPU per request ≤ 200 µs (≥ 5,000 req/s on one core)", $"{cpu:0} µs", cpu <= 200);
        }
        if (CpuRatio(gateway) is { } ratio)
        {
            yield return new($"{label}: within 3× the pass-through's CPU per request", $"{ratio:0.00}×", ratio <= 3);
        }
        if (Added(gateway, d => d.P50Ms) is { } p50)
        {
            yield return new($"{label}: added latency p50 ≤ 0.5 ms at {options.Rate} req/s", $"{p50:0.000} ms", p50 <= 0.5);
        }
        if (Added(gateway, d => d.P99Ms) is { } p99)
        {
            yield return new($"{label}: added latency p99 ≤ 2 ms at {options.Rate} req/s", $"{p99:0.000} ms", p99 <= 2);
        }
        if (Added(gateway, d => d.StreamTtfbP50Ms) is { } ttfb)
        {
            yield return new($"{label}: streaming time-to-first-byte overhead ≤ 1 ms", $"{ttfb:0.000} ms", ttfb <= 1);
        }
        if (gateway.PeakRssMb is { } rss)
        {
            yield return new($"{label}: peak RSS ≤ 250 MB", $"{rss:0} MB", rss <= 250);
        }
        if (Find("mesh") is { } mesh && Added(mesh, d => d.P50Ms) is { } meshP50)
        {
            yield return new("mesh: added latency p50 ≤ 1 ms", $"{meshP50:0.000} ms", meshP50 <= 1);
        }
    }

    private double? Added(TargetResult r, Func<TargetResult, double> metric) =>
        r.Target != "direct" && Find("direct") is { } direct ? metric(r) - metric(direct) : null;

    private double? CpuRatio(TargetResult r) =>
        r.CpuMicrosecondsPerRequest is { } cpu && Find("passthrough")?.CpuMicrosecondsPerRequest is { } bare && r.Target != "passthrough" ? cpu / bare : null;

    private static string F(double? value, string format) => value?.ToString(format, CultureInfo.InvariantCulture) ?? "–";
}
