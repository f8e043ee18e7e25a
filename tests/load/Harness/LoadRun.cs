using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Gateway.Load.Harness;

public sealed record TargetResult(
    string Target,
    double? SaturationRps,
    double? CpuMicrosecondsPerRequest,
    double RateAchieved,
    double P50Ms, double P90Ms, double P99Ms,
    double StreamTtfbP50Ms, double StreamTtfbP99Ms,
    double? PeakRssMb,
    long Errors);

/// <summary>
/// One run: the fake upstream on core 1, each target in turn on core 0, wrk (and the harness's own streaming
/// client) on core 1. Every figure comes from this run, so ratios to the pass-through survive a noisy machine.
/// </summary>
public sealed class LoadRun(HarnessOptions options)
{
    private const int UpstreamPort = 19900;
    private const int SaturationConnections = 32, RateConnections = 10;

    public async Task<int> RunAsync()
    {
        var root = FindRoot();
        Directory.SetCurrentDirectory(root);
        // The harness's own streaming client shares the load core with wrk, never the target's core.
        Process.GetCurrentProcess().ProcessorAffinity = 2;
        var work = Directory.CreateTempSubdirectory("gateway-load-").FullName;
        try
        {
            return await RunAsync(root, work);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private async Task<int> RunAsync(string root, string work)
    {
        using var upstream = PinnedProcess.Start(1, Path.Combine(work, "upstream.log"), "dotnet",
            Path.Combine(root, "tests/load/FakeUpstream/bin/Release/net10.0/Gateway.Load.FakeUpstream.dll"),
            UpstreamPort.ToString(CultureInfo.InvariantCulture));
        await upstream.WaitForPortAsync(UpstreamPort, TimeSpan.FromSeconds(30));
        var factory = new TargetFactory(root, work, UpstreamPort);
        Directory.CreateDirectory(options.OutDirectory);
        var stamp = TimeProvider.System.GetUtcNow().ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);

        if (options.SoakSeconds > 0)
        {
            using var soaked = await factory.StartAsync(options.Targets[^1]);
            var (samples, loadAverage) = await new SoakRun(options).RunAsync(soaked);
            var soak = new SoakReport(options, soaked.Name, samples, loadAverage);
            File.WriteAllText(Path.Combine(options.OutDirectory, $"soak-{stamp}.json"), soak.Json());
            File.WriteAllText(Path.Combine(options.OutDirectory, $"soak-{stamp}.md"), soak.Markdown());
            Console.WriteLine(soak.Markdown());
            return soak.Passed ? 0 : 1;
        }

        var results = new List<TargetResult>();
        foreach (var name in options.Targets)
        {
            using var target = await factory.StartAsync(name);
            Console.Error.WriteLine($"== {name}");
            results.Add(await MeasureAsync(target));
        }
        var report = new Report(options, results);
        File.WriteAllText(Path.Combine(options.OutDirectory, $"load-{stamp}.json"), report.Json());
        File.WriteAllText(Path.Combine(options.OutDirectory, $"load-{stamp}.md"), report.Markdown());
        Console.WriteLine(report.Markdown());
        return results.Any(r => r.Errors > 0) ? 1 : 0;
    }

    private async Task<TargetResult> MeasureAsync(Target target)
    {
        var seconds = options.DurationSeconds;
        // Warm-up: tiered JIT promotes the hot path only after ~30 calls per method and a quiet spell, which on a
        // busy core takes tens of seconds; measuring before that reports the unoptimised code.
        await Wrk.RunAsync(target.Url, 8, options.WarmupSeconds, TargetFactory.Key, prompt: target.Prompt);
        double? rps = null, cpu = null;
        long errors = 0;
        if (target.Pids.Count > 0)
        {
            var before = ProcStats.CpuTime(target.Pids);
            var saturation = await Wrk.RunAsync(target.Url, SaturationConnections, seconds, TargetFactory.Key, prompt: target.Prompt);
            var spent = ProcStats.CpuTime(target.Pids) - before;
            rps = saturation.RequestsPerSecond;
            cpu = spent.TotalMicroseconds / saturation.Requests;
            errors += saturation.Errors;
        }
        // A steady rate instead of saturation: each connection pauses so the total stays near the asked rate.
        var steady = await Wrk.RunAsync(target.Url, RateConnections, seconds, TargetFactory.Key, delayMs: RateConnections * 1000.0 / options.Rate, prompt: target.Prompt);
        var (ttfb50, ttfb99) = await StreamTimeToFirstByteAsync(target.Url, target.Prompt);
        double? rss = target.Pids.Count > 0 ? target.Pids.Sum(pid => ProcStats.StatusKilobytes(pid, "VmHWM")) / 1024.0 : null;
        return new TargetResult(target.Name, rps, cpu, steady.RequestsPerSecond, steady.P50Ms, steady.P90Ms, steady.P99Ms,
            ttfb50, ttfb99, rss, errors + steady.Errors);
    }

    // Time from sending a streaming request to the first SSE bytes, one request at a time.
    private async Task<(double P50, double P99)> StreamTimeToFirstByteAsync(string url, string? promptReference)
    {
        using var client = new HttpClient();
        var text = string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 23));
        var chat = new JsonObject
        {
            ["model"] = "gpt-4o",
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = text }),
            ["max_tokens"] = 64,
            ["stream"] = true,
        };
        if (promptReference is not null)
        {
            chat["prompt"] = JsonNode.Parse(promptReference);
        }
        var body = chat.ToJsonString();
        var samples = new List<double>();
        var buffer = new byte[1];
        for (var i = 0; i < options.StreamSamples + 50; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new("Bearer", TargetFactory.Key);
            var clock = Stopwatch.StartNew();
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            await using var stream = await response.Content.ReadAsStreamAsync();
            _ = await stream.ReadAsync(buffer);
            var elapsed = clock.Elapsed.TotalMilliseconds;
            await stream.CopyToAsync(Stream.Null);
            if (i >= 50)
            {
                samples.Add(elapsed); // the first 50 warm the connection and the stream path
            }
        }
        samples.Sort();
        return (Percentile(samples, 0.50), Percentile(samples, 0.99));
    }

    public static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? 0 : sorted[(int)Math.Min(sorted.Count - 1, Math.Ceiling(p * sorted.Count) - 1)];

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Gateway.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("run the harness from inside the repository");
    }
}
