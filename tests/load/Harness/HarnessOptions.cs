using System.Globalization;

namespace Gateway.Load.Harness;

public sealed record HarnessOptions
{
    public static readonly string[] AllTargets = ["direct", "passthrough", "gateway", "governed", "mesh"];

    public int DurationSeconds { get; init; } = 10;
    public int Rate { get; init; } = 1000;
    public int WarmupSeconds { get; init; } = 30;
    public IReadOnlyList<string> Targets { get; init; } = ["direct", "passthrough", "gateway", "governed"];
    public string OutDirectory { get; init; } = "tests/load/results";
    // A soak instead of the measurements: S seconds at the steady rate on the last target, sampled every SampleSeconds.
    public int SoakSeconds { get; init; }
    public int SampleSeconds { get; init; } = 10;
    public int StreamSamples { get; init; } = 400;

    public static HarnessOptions? Parse(string[] args)
    {
        var options = new HarnessOptions();
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var value = args[i + 1];
            options = args[i] switch
            {
                "--duration" => options with { DurationSeconds = int.Parse(value, CultureInfo.InvariantCulture) },
                "--warmup" => options with { WarmupSeconds = int.Parse(value, CultureInfo.InvariantCulture) },
                "--rate" => options with { Rate = int.Parse(value, CultureInfo.InvariantCulture) },
                "--targets" => options with { Targets = value.Split(',', StringSplitOptions.RemoveEmptyEntries) },
                "--out" => options with { OutDirectory = value },
                "--soak" => options with { SoakSeconds = int.Parse(value, CultureInfo.InvariantCulture) },
                "--sample" => options with { SampleSeconds = int.Parse(value, CultureInfo.InvariantCulture) },
                "--stream-samples" => options with { StreamSamples = int.Parse(value, CultureInfo.InvariantCulture) },
                _ => null,
            };
            if (options is null)
            {
                return null;
            }
        }
        return args.Length % 2 == 0 && options.Targets.All(AllTargets.Contains) ? options : null;
    }
}
