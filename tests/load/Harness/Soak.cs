using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Gateway.Load.Harness;

// One sampling interval of a soak: the process as /proc and the gateway's own /metrics saw it at the end of the
// interval, and wrk's figures for the load in it.
public sealed record SoakSample(
    double Minute, double RssMb, double GcHeapMb, double GcCommittedMb, int Threads, int Sockets,
    double RequestsPerSecond, double P50Ms, double P99Ms, long Errors);

// A metric's trend over the soak: least-squares slope per minute, and the mean of the last quarter of samples
// against the first quarter (robust to a single spike; the slope is not).
public sealed record Trend(string Metric, string Unit, double First, double Last, double SlopePerMinute, double FirstQuartileMean, double LastQuartileMean)
{
    public double QuartileChange => LastQuartileMean - FirstQuartileMean;

    public static Trend Of(string metric, string unit, IReadOnlyList<SoakSample> samples, Func<SoakSample, double> value)
    {
        var xs = samples.Select(s => s.Minute).ToArray();
        var ys = samples.Select(value).ToArray();
        var meanX = xs.Average();
        var meanY = ys.Average();
        var sxx = xs.Sum(x => (x - meanX) * (x - meanX));
        var slope = sxx == 0 ? 0 : xs.Zip(ys).Sum(p => (p.First - meanX) * (p.Second - meanY)) / sxx;
        var quarter = Math.Max(1, ys.Length / 4);
        return new Trend(metric, unit, ys[0], ys[^1], slope, ys.Take(quarter).Average(), ys.TakeLast(quarter).Average());
    }
}

// The soak (tests/load/soak.sh, or run.sh --soak S): after a warm-up, the last target is held at a steady rate on
// 127.0.0.1 for S seconds, as back-to-back wrk runs of --sample seconds each, so latency is known per interval;
// after each interval RSS, threads and sockets come from /proc and the GC heap from the gateway's /metrics
// (the runtime's System.Runtime meter). The first interval after warm-up is kept: a leak shows as a slope over
// the whole run, not only its second half.
public sealed class SoakRun(HarnessOptions options)
{
    private const int Connections = 10;

    public async Task<(IReadOnlyList<SoakSample> Samples, string LoadAverage)> RunAsync(Target target)
    {
        Console.Error.WriteLine($"== soak {target.Name}: warm-up {options.WarmupSeconds} s, then {options.SoakSeconds} s at {options.Rate} req/s, a sample every {options.SampleSeconds} s");
        await Wrk.RunAsync(target.Url, Connections, options.WarmupSeconds, TargetFactory.Key, delayMs: Connections * 1000.0 / options.Rate, prompt: target.Prompt);
        var pid = target.Pids[0];
        var metrics = new Uri(new Uri(target.Url), "/metrics");
        using var http = new HttpClient();
        var loadBefore = File.ReadAllText("/proc/loadavg").Split(' ')[0];
        var samples = new List<SoakSample>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds + options.SampleSeconds / 2.0 < options.SoakSeconds)
        {
            var load = await Wrk.RunAsync(target.Url, Connections, options.SampleSeconds, TargetFactory.Key, delayMs: Connections * 1000.0 / options.Rate, prompt: target.Prompt);
            var (heap, committed) = await GcHeapAsync(http, metrics);
            samples.Add(new SoakSample(
                Math.Round(clock.Elapsed.TotalMinutes, 3),
                ProcStats.StatusKilobytes(pid, "VmRSS") / 1024.0, heap, committed, ProcStats.Threads(pid), ProcStats.Sockets(pid),
                load.RequestsPerSecond, load.P50Ms, load.P99Ms, load.Errors));
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   {samples[^1].Minute,6:0.00} min  RSS {samples[^1].RssMb,6:0.0} MB  GC heap {heap,6:0.0} MB  threads {samples[^1].Threads,3}  sockets {samples[^1].Sockets,3}  {load.RequestsPerSecond,6:0} req/s  p50 {load.P50Ms:0.00} ms  p99 {load.P99Ms:0.00} ms  errors {load.Errors}"));
        }
        var loadAfter = File.ReadAllText("/proc/loadavg").Split(' ')[0];
        return (samples, $"{loadBefore} → {loadAfter}");
    }

    // Sum over generations of the heap size after the last GC, and the memory the GC has committed.
    private static async Task<(double HeapMb, double CommittedMb)> GcHeapAsync(HttpClient http, Uri metrics)
    {
        var text = await http.GetStringAsync(metrics);
        double heap = 0, committed = 0;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("dotnet_gc_last_collection_heap_size_bytes{", StringComparison.Ordinal))
            {
                heap += Value(line);
            }
            else if (line.StartsWith("dotnet_gc_last_collection_memory_committed_size_bytes", StringComparison.Ordinal) && !line.StartsWith('#'))
            {
                committed += Value(line);
            }
        }
        return (heap / (1024 * 1024), committed / (1024 * 1024));

        // `name{labels} value [timestamp]`
        static double Value(string line)
        {
            var brace = line.LastIndexOf('}');
            var rest = brace >= 0 ? line[(brace + 1)..] : line[(line.IndexOf(' ', StringComparison.Ordinal) + 1)..];
            return double.Parse(rest.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture);
        }
    }
}

// The soak's report: every sample, each metric's trend, and the verdict on each (markdown and JSON).
public sealed class SoakReport(HarnessOptions options, string target, IReadOnlyList<SoakSample> samples, string loadAverage)
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    // What counts as "no upward trend" over a run of tens of minutes; a leak of one socket or 100 KB per request
    // blows through these within minutes at these rates.
    private const double RssSlopeLimitMbPerMinute = 1.0, HeapSlopeLimitMbPerMinute = 0.5, SocketQuartileLimit = 5, ThreadQuartileLimit = 5;

    public IReadOnlyList<Trend> Trends { get; } = samples.Count < 4 ? [] :
    [
        Trend.Of("rss", "MB", samples, s => s.RssMb),
        Trend.Of("gc_heap", "MB", samples, s => s.GcHeapMb),
        Trend.Of("gc_committed", "MB", samples, s => s.GcCommittedMb),
        Trend.Of("threads", "", samples, s => s.Threads),
        Trend.Of("sockets", "", samples, s => s.Sockets),
        Trend.Of("p50", "ms", samples, s => s.P50Ms),
        Trend.Of("p99", "ms", samples, s => s.P99Ms),
    ];

    private Trend T(string metric) => Trends.First(t => t.Metric == metric);

    public IEnumerable<(string Name, string Value, bool Pass)> Checks()
    {
        if (Trends.Count == 0)
        {
            yield break;
        }
        yield return ($"RSS slope ≤ {RssSlopeLimitMbPerMinute} MB/min", $"{T("rss").SlopePerMinute:0.000} MB/min", T("rss").SlopePerMinute <= RssSlopeLimitMbPerMinute);
        yield return ($"GC heap slope ≤ {HeapSlopeLimitMbPerMinute} MB/min", $"{T("gc_heap").SlopePerMinute:0.000} MB/min", T("gc_heap").SlopePerMinute <= HeapSlopeLimitMbPerMinute);
        yield return ($"sockets: last quarter ≤ first quarter + {SocketQuartileLimit}", $"{T("sockets").FirstQuartileMean:0.0} → {T("sockets").LastQuartileMean:0.0}", T("sockets").QuartileChange <= SocketQuartileLimit);
        yield return ($"threads: last quarter ≤ first quarter + {ThreadQuartileLimit}", $"{T("threads").FirstQuartileMean:0.0} → {T("threads").LastQuartileMean:0.0}", T("threads").QuartileChange <= ThreadQuartileLimit);
        yield return ("p50 latency: last quarter ≤ 1.5 × first quarter", $"{T("p50").FirstQuartileMean:0.000} → {T("p50").LastQuartileMean:0.000} ms", T("p50").LastQuartileMean <= 1.5 * T("p50").FirstQuartileMean);
        yield return ("no errors", samples.Sum(s => s.Errors).ToString(CultureInfo.InvariantCulture), samples.All(s => s.Errors == 0));
    }

    public bool Passed => Checks().All(c => c.Pass);

    public string Json() => JsonSerializer.Serialize(new
    {
        Target = target,
        options.SoakSeconds,
        options.SampleSeconds,
        options.WarmupSeconds,
        options.Rate,
        LoadAverage = loadAverage,
        Machine = new { Environment.ProcessorCount, Os = Environment.OSVersion.VersionString },
        Trends = Trends.Select(t => new { t.Metric, t.Unit, t.First, t.Last, t.SlopePerMinute, t.FirstQuartileMean, t.LastQuartileMean }),
        Checks = Checks().Select(c => new { c.Name, c.Value, c.Pass }),
        Samples = samples,
    }, Indented);

    public string Markdown()
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"Soak of `{target}`: {options.SoakSeconds} s at {options.Rate} req/s after a {options.WarmupSeconds} s warm-up, sampled every {options.SampleSeconds} s; target on core 0, wrk and the fake upstream on core 1; load average {loadAverage}.");
        md.AppendLine();
        md.AppendLine("| metric | first | last | slope per minute | first-quarter mean | last-quarter mean |");
        md.AppendLine("|---|---|---|---|---|---|");
        foreach (var t in Trends)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {t.Metric} {(t.Unit.Length > 0 ? $"({t.Unit})" : "")} | {t.First:0.###} | {t.Last:0.###} | {t.SlopePerMinute:+0.000;-0.000;0} | {t.FirstQuartileMean:0.###} | {t.LastQuartileMean:0.###} |");
        }
        md.AppendLine();
        md.AppendLine("| check | value | met |");
        md.AppendLine("|---|---|---|");
        foreach (var (name, value, pass) in Checks())
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {value} | {(pass ? "yes" : "no")} |");
        }
        md.AppendLine();
        md.AppendLine("| minute | RSS MB | GC heap MB | GC committed MB | threads | sockets | req/s | p50 ms | p99 ms | errors |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var s in samples)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {s.Minute:0.00} | {s.RssMb:0.0} | {s.GcHeapMb:0.0} | {s.GcCommittedMb:0.0} | {s.Threads} | {s.Sockets} | {s.RequestsPerSecond:0} | {s.P50Ms:0.000} | {s.P99Ms:0.000} | {s.Errors} |");
        }
        return md.ToString();
    }
}
