using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Gateway.Common.Configuration;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;
using Gateway.Guard;
using Gateway.Guard.Detection;
using Microsoft.Extensions.Logging.Abstractions;

if (args is ["cpu", ..])
{
    CpuTime.Run();
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(ScanBenchmarks).Assembly).Run(args);

// What the guard costs on the hot path: the detectors alone, and the whole input check under a policy with
// every detector on (entities, custom pattern, deny list, injection and moderation), for 1, 4 and 64 KB prompts
// of ordinary prose with a few entities in it.
[MemoryDiagnoser]
public class ScanBenchmarks
{
    private const string Paragraph =
        "Hi team, following up on ticket 48213: the customer says the export job failed again last night around 02:10 UTC. " +
        "Logs show retries from the worker pool and a timeout against the reporting database; no data was lost. " +
        "Could you check whether the nightly window overlaps with the backup, and let me know by Friday? " +
        "Version 4.12.0.3 is deployed everywhere, commit 9f2c1e7b, and the dashboard link is in the runbook. ";

    private const string Sensitive =
        "Contact Maria Schmidt at maria.schmidt@acme-corp.com or +49 30 901820; card 4111 1111 1111 1111; host 10.20.30.40. ";

    private readonly List<EntityMatch> _found = new(64);
    private GuardEngine _engine = null!;
    private ChatRequest _request = null!;
    private string _text = null!;

    public string Text => _text;

    [Params(1, 4, 64)]
    public int Kilobytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var builder = new System.Text.StringBuilder();
        while (builder.Length < Kilobytes * 1024)
        {
            builder.Append(Paragraph);
            if (builder.Length % 4 == 0)
            {
                builder.Append(Sensitive);
            }
        }
        builder.Insert(Paragraph.Length, Sensitive);
        _text = builder.ToString(0, Kilobytes * 1024);
        var config = ConfigLoader.Parse("""
            providers:
              openai: { kind: openai, base_url: https://api.openai.com/v1 }
            models:
              gpt-4o:
                targets: [{ provider: openai, model: gpt-4o }]
            guard:
              policies:
                strict:
                  entities: { default: redact, PERSON: pseudonymize, EMAIL: pseudonymize }
                  injection: audit
                  moderation: { default: audit }
                  patterns: [{ name: EMPLOYEE_ID, regex: 'EMP-\d{6}' }]
                  deny: { terms: [Project Falcon, Bluebird] }
              assign: [{ scope: {}, policy: strict }]
            """, _ => null);
        _engine = new GuardEngine(new ConfigMonitor(config, null, NullLogger<ConfigMonitor>.Instance), new GuardTelemetry());
        _request = new ChatRequest { Model = "gpt-4o", Messages = { new Message { Role = Role.User, Content = { new ContentPart { Text = _text } } } } };
    }

    [Benchmark(Baseline = true)]
    public int Detectors()
    {
        _found.Clear();
        PiiScanner.Scan(_text, _found);
        return _found.Count;
    }

    [Benchmark]
    public int CheckInput() => _engine.CheckInput(new Principal { Team = "qa" }, _request).Findings.Count;
}

// Each detector alone on the 4 KB text, to see where the scan's time goes ("anchors" is the one pass over the
// text that every detector starts from; the others reuse its result):
//   dotnet run -c Release --project tests/Gateway.Guard.Benchmarks -- --filter '*PerDetector*' --job short --inProcess
[MemoryDiagnoser]
public class PerDetectorBenchmarks
{
    private readonly List<EntityMatch> _found = new(64);
    private readonly int[] _categories = new int[5];
    private string _text = null!;
    private TextAnchors _anchors = null!;

    [Params("anchors", "email", "url", "secret", "card", "ssn", "iban", "ip", "crypto", "dob", "phone", "person", "injection", "moderation")]
    public string Detector { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var bench = new ScanBenchmarks { Kilobytes = 4 };
        bench.Setup();
        _text = bench.Text;
        _anchors = TextAnchors.Find(_text);
    }

    [Benchmark]
    public int Scan()
    {
        _found.Clear();
        switch (Detector)
        {
            case "anchors":
                using (var anchors = TextAnchors.Find(_text))
                {
                    return anchors.DigitRuns.Count;
                }
            case "email": PiiScanner.Emails(_text, _found); break;
            case "url": PiiScanner.CredentialUrls(_text, _found); break;
            case "secret": PiiScanner.Secrets(_text, _anchors, hasScheme: true, _found); break;
            case "card": PiiScanner.Cards(_text, _anchors, _found); break;
            case "ssn": PiiScanner.Ssns(_text, _anchors, _found); break;
            case "iban": PiiScanner.Ibans(_text, _anchors, _found); break;
            case "ip": PiiScanner.IpAddresses(_text, _anchors, _found); break;
            case "crypto": PiiScanner.Crypto(_text, _anchors, _found); break;
            case "dob": PiiScanner.DatesOfBirth(_text, _anchors, _found); break;
            case "phone": PhoneDetector.Scan(_text, _anchors, _found); break;
            case "person": PersonDetector.Scan(_text, _anchors, _found); break;
            case "injection": return ThreatDetector.Injections(_text, _anchors);
            case "moderation": ThreatDetector.Moderation(_text, _anchors, _categories); return _categories[0];
        }
        return _found.Count;
    }
}

// On a shared machine wall-clock figures swing with other people's builds; the CPU time this process spends
// per operation swings far less. `dotnet run -c Release --project tests/Gateway.Guard.Benchmarks -- cpu`
// prints the median of seven rounds (process CPU time / operations) for the scan benchmarks.
internal static class CpuTime
{
    public static void Run()
    {
        foreach (var kilobytes in (int[])[1, 4, 64])
        {
            var bench = new ScanBenchmarks { Kilobytes = kilobytes };
            bench.Setup();
            Console.WriteLine($"{kilobytes,3} KB  detectors {Median(() => bench.Detectors(), kilobytes),8:0.0} µs   check input {Median(() => bench.CheckInput(), kilobytes),8:0.0} µs");
        }
        var perDetector = new PerDetectorBenchmarks();
        foreach (var detector in typeof(PerDetectorBenchmarks).GetProperty(nameof(PerDetectorBenchmarks.Detector))!
                     .GetCustomAttributes(typeof(ParamsAttribute), false).Cast<ParamsAttribute>().Single().Values.Cast<string>())
        {
            perDetector.Detector = detector;
            perDetector.Setup();
            Console.WriteLine($"  4 KB  {detector,-11} {Median(() => perDetector.Scan(), 4),8:0.00} µs");
        }
    }

    private static double Median(Func<int> operation, int kilobytes)
    {
        var iterations = Math.Max(20, 4000 / kilobytes);
        for (var i = 0; i < iterations; i++)
        {
            operation();
        }
        var rounds = new double[7];
        for (var round = 0; round < rounds.Length; round++)
        {
            var before = Environment.CpuUsage.TotalTime;
            for (var i = 0; i < iterations; i++)
            {
                operation();
            }
            rounds[round] = (Environment.CpuUsage.TotalTime - before).TotalMicroseconds / iterations;
        }
        Array.Sort(rounds);
        return rounds[rounds.Length / 2];
    }
}
