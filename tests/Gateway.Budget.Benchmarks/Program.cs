using System.Diagnostics;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Gateway.Budget.Benchmarks;

// dotnet run -c Release --project tests/Gateway.Budget.Benchmarks            BenchmarkDotNet (short run, in process)
// dotnet run -c Release --project tests/Gateway.Budget.Benchmarks -- --loop  a measured loop: µs per check (reserve + release)
if (args.Contains("--loop"))
{
    var bench = new AdmissionBenchmarks();
    await bench.SetupAsync();
    foreach (var (name, ledger, count) in new[] { ("in-memory", bench.Memory, 200_000), ("redis", bench.Redis, 20_000) })
    {
        for (var i = 0; i < count / 10; i++)
        {
            await bench.CheckAsync(ledger);
        }
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            await bench.CheckAsync(ledger);
        }
        var elapsed = Stopwatch.GetElapsedTime(start);
        Console.WriteLine($"{name,-10} 3 matching budgets: {elapsed.TotalMicroseconds / count:F2} µs per check (reserve + release), {count} checks sequential");
    }
    await bench.CleanupAsync();
    return;
}
var config = DefaultConfig.Instance.AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance));
BenchmarkRunner.Run<AdmissionBenchmarks>(config, args);
