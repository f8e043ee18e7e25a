using Gateway.Fuzz;

// afl-fuzz runs this once per process (persistent mode inside SharpFuzz): `Gateway.Fuzz <target>`.
// `Gateway.Fuzz <target> <file>` runs one input in process, to reproduce a crash without afl.
if (args.Length == 0 || !FuzzTargets.All.ContainsKey(args[0]))
{
    Console.Error.WriteLine($"usage: Gateway.Fuzz <{string.Join('|', FuzzTargets.All.Keys)}> [input-file]");
    return 2;
}
if (args.Length > 1)
{
    FuzzTargets.Run(args[0], File.ReadAllBytes(args[1]));
    return 0;
}
SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
{
    using var copy = new MemoryStream();
    stream.CopyTo(copy);
    FuzzTargets.Run(args[0], copy.ToArray());
});
return 0;
