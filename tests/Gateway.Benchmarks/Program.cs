using BenchmarkDotNet.Running;
using Gateway.Benchmarks;

// `failover [requests]` measures the extra latency of one failover end to end; anything else goes to
// BenchmarkDotNet (e.g. `--filter *Selection* --job short`).
if (args is ["failover", ..])
{
    await FailoverLatency.RunAsync(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 500);
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(SelectionBenchmarks).Assembly).Run(args);
