using BenchmarkDotNet.Attributes;
using Gateway.Budget.Store;

namespace Gateway.Budget.Benchmarks;

// Ledger rows written to the SQLite state database, 64 per operation: one after another (each its own commit,
// as every settle was before group commit, however many ran at once) and all at once (queued behind the
// writer and committed together).
[MemoryDiagnoser]
public class LedgerWriteBenchmarks
{
    private const int Writes = 64;
    private string _directory = "";
    private SqlLedger _ledger = null!;
    private static readonly string[] Budgets = [.. Enumerable.Range(0, 8).Select(i => $"budget-{i}")];
    private readonly Task[] _tasks = new Task[Writes];

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "gateway-ledger-bench", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        _ledger = SqlLedger.Open($"sqlite://{_directory}/state.db");
        _ledger.AddCommittedAsync("warm", 0, 1, CancellationToken.None).GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Writes)]
    public async Task OneAfterAnother()
    {
        for (var i = 0; i < Writes; i++)
        {
            await _ledger.AddCommittedAsync(Budgets[i % Budgets.Length], 0, 1000, CancellationToken.None);
        }
    }

    [Benchmark(OperationsPerInvoke = Writes)]
    public Task AllAtOnce()
    {
        for (var i = 0; i < Writes; i++)
        {
            _tasks[i] = _ledger.AddCommittedAsync(Budgets[i % Budgets.Length], 0, 1000, CancellationToken.None);
        }
        return Task.WhenAll(_tasks);
    }

    // Settles as a loaded gateway issues them: `writers` loops each writing one row after another, so the rows
    // of different writers meet in the queue. Prints writes per second and process CPU time per write.
    public static async Task MeasureAsync(int writers, int writes)
    {
        var bench = new LedgerWriteBenchmarks();
        bench.Setup();
        var process = System.Diagnostics.Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var start = TimeProvider.System.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < writes / writers; i++)
            {
                await bench._ledger.AddCommittedAsync(Budgets[(w + i) % Budgets.Length], 0, 1000, CancellationToken.None);
            }
        })));
        var elapsed = TimeProvider.System.GetElapsedTime(start);
        process.Refresh();
        var cpuPerWrite = (process.TotalProcessorTime - cpu).TotalMicroseconds / writes;
        Console.WriteLine($"{writers,3} writers: {writes / elapsed.TotalSeconds,8:F0} ledger writes/s, {cpuPerWrite,6:F1} µs CPU per write ({writes} writes{Commits(bench._ledger)})");
        bench.Cleanup();
    }

    // The state database's commit count is internal; read it when the build has one (group commit).
    private static string Commits(SqlLedger ledger)
    {
        var db = typeof(SqlLedger).GetField("_db", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)?.GetValue(ledger);
        var commits = db?.GetType().GetProperty("Commits", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)?.GetValue(db);
        return commits is null ? "" : $" in {commits} commits";
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _ledger.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(_directory, recursive: true);
    }
}
