using Gateway.Load.Harness;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

// Usage (from the repository root; tests/load/run.sh builds everything first):
//   dotnet tests/load/Harness/bin/Release/net10.0/Gateway.Load.Harness.dll [--duration S] [--warmup S] [--rate R]
//       [--targets direct,passthrough,gateway,governed] [--out DIR] [--soak S [--sample S]]
//   ... passthrough PORT UPSTREAM_URL      (the reference proxy, started by the harness itself)
if (args is ["passthrough", var port, var upstream])
{
    await PassThrough.RunAsync(int.Parse(port, System.Globalization.CultureInfo.InvariantCulture), upstream);
    return 0;
}
var options = HarnessOptions.Parse(args);
if (options is null)
{
    Console.Error.WriteLine("usage: harness [--duration S] [--warmup S] [--rate R] [--targets a,b] [--out DIR] [--soak S [--sample S]]");
    return 2;
}
return await new LoadRun(options).RunAsync();
