using System.Diagnostics;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Gateway.Budget.Benchmarks;

// dotnet run -c Release --project tests/Gateway.Budget.Benchmarks            BenchmarkDotNet (short run, in process), every class
// dotnet run -c Release --project tests/Gateway.Budget.Benchmarks -- --filter '*TokenCount*'   or '*LedgerWrite*', '*Admission*'
// dotnet run -c Release --project tests/Gateway.Budget.Benchmarks -- --loop  a measured loop: µs per check (reserve + release)
// dotnet run -c Release --project tests/Gateway.Budget.Benchmarks -- --ledger  ledger writes from 1 and 32 concurrent writers: rate, CPU per write
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
if (args.Contains("--ledger"))
{
    await LedgerWriteBenchmarks.MeasureAsync(writers: 1, writes: 20_000);
    await LedgerWriteBenchmarks.MeasureAsync(writers: 32, writes: 20_000);
    return;
}
var config = DefaultConfig.Instance.AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance));
BenchmarkRunner.Run(typeof(AdmissionBenchmarks).Assembly, config, args);
