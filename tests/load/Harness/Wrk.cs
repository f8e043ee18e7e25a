using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Gateway.Load.Harness;

public sealed record WrkResult(long Requests, double Seconds, double P50Ms, double P90Ms, double P99Ms, long Errors)
{
    public double RequestsPerSecond => Requests / Seconds;
}

/// <summary>Runs wrk pinned to the load core with tests/load/chat.lua and reads the JSON line its done() writes.</summary>
public static class Wrk
{
    // `prompt`: the `prompt` field's JSON, sent with every request when given.
    public static async Task<WrkResult> RunAsync(string url, int connections, int seconds, string key, bool stream = false, double delayMs = 0, string? prompt = null)
    {
        var start = new ProcessStartInfo("taskset") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["-c", "1", "wrk", "-t1", $"-c{connections}", $"-d{seconds}s", "--timeout", "5s",
                     "-s", "tests/load/chat.lua", url])
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["GATEWAY_KEY"] = key;
        start.Environment["STREAM"] = stream ? "1" : "0";
        start.Environment["DELAY_MS"] = delayMs.ToString("0.###", CultureInfo.InvariantCulture);
        start.Environment["PROMPT"] = prompt ?? "";
        using var wrk = Process.Start(start) ?? throw new InvalidOperationException("wrk did not start (apt-get install wrk)");
        var output = await wrk.StandardOutput.ReadToEndAsync();
        await wrk.WaitForExitAsync();
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"wrk printed no result: {output} {await wrk.StandardError.ReadToEndAsync()}");
        using var json = JsonDocument.Parse(line["RESULT ".Length..]);
        var root = json.RootElement;
        return new WrkResult(
            root.GetProperty("requests").GetInt64(),
            root.GetProperty("duration_us").GetInt64() / 1e6,
            root.GetProperty("p50_us").GetInt64() / 1000.0,
            root.GetProperty("p90_us").GetInt64() / 1000.0,
            root.GetProperty("p99_us").GetInt64() / 1000.0,
            root.GetProperty("non2xx").GetInt64() + root.GetProperty("socket_errors").GetInt64());
    }
}
