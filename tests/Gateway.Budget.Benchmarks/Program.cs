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
// dotnet run -c Release --project tests/Gateway.Budget.Benchmarks -- --booking µs per SQLite ledger write: a settlement
//                                                                        booked once by reservation id, and a plain upsert
if (args.Contains("--booking"))
{
    var directory = Path.Combine(Path.GetTempPath(), "gateway-ledger-bench", Guid.NewGuid().ToString("N"));
    Directory.CreateDirectory(directory);
    await using var sql = Gateway.Budget.Store.SqlLedger.Open($"sqlite://{directory}/state.db");
    const int Count = 20_000;
    var now = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();
    var writes = new (string Name, Func<int, Task> Write)[]
    {
        ("settlement booked by reservation id", i => sql.BookSettlementAsync($"r{i}", [("team", 0L)], 1_000, now, CancellationToken.None)),
        ("the same, three budgets", i => sql.BookSettlementAsync($"s{i}", [("team", 0L), ("project", 0L), ("key", 0L)], 1_000, now, CancellationToken.None)),
        ("plain upsert (adjustment)", _ => sql.AddCommittedAsync("team", 0, 1_000, CancellationToken.None)),
        ("three plain upserts", async _ =>
        {
            await sql.AddCommittedAsync("team", 0, 1_000, CancellationToken.None);
            await sql.AddCommittedAsync("project", 0, 1_000, CancellationToken.None);
            await sql.AddCommittedAsync("key", 0, 1_000, CancellationToken.None);
        }),
    };
    foreach (var (name, write) in writes)
    {
        for (var i = 0; i < Count / 10; i++)
        {
            await write(-1 - i);
        }
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < Count; i++)
        {
            await write(i);
        }
        Console.WriteLine($"{name,-36} {Stopwatch.GetElapsedTime(start).TotalMicroseconds / Count:F1} µs per write, {Count} sequential");
    }
    return;
}
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
