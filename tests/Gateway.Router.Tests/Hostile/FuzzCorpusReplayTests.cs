using Gateway.Fuzz;

namespace Gateway.Router.Tests.Hostile;

// Every committed fuzz seed and every crash input afl++ ever found (tests/fuzz/corpus, tests/fuzz/crashes), run
// through its target in process: CI exercises them without afl. A target lets only its typed errors through.
public sealed class FuzzCorpusReplayTests
{
    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        var root = FuzzRoot();
        foreach (var folder in new[] { "corpus", "crashes" })
        {
            var directory = Path.Combine(root, folder);
            if (!Directory.Exists(directory))
            {
                continue;
            }
            foreach (var targetDirectory in Directory.GetDirectories(directory).Order(StringComparer.Ordinal))
            {
                foreach (var file in Directory.GetFiles(targetDirectory).Order(StringComparer.Ordinal))
                {
                    data.Add(Path.GetFileName(targetDirectory), Path.GetRelativePath(root, file));
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Replay_FuzzInput_OnlyTypedErrors(string target, string file)
    {
        Assert.True(FuzzTargets.All.ContainsKey(target), $"no fuzz target '{target}'");
        FuzzTargets.Run(target, File.ReadAllBytes(Path.Combine(FuzzRoot(), file)));
    }

    [Fact]
    public void Corpus_EveryTargetHasSeeds()
    {
        foreach (var target in FuzzTargets.All.Keys)
        {
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(FuzzRoot(), "corpus", target)));
        }
    }

    internal static string FuzzRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "tests", "fuzz");
            if (Directory.Exists(Path.Combine(candidate, "corpus")))
            {
                return candidate;
            }
        }
        throw new DirectoryNotFoundException("tests/fuzz/corpus not found above " + AppContext.BaseDirectory);
    }
}
