using System.Text;
using System.Text.Json;
using Gateway.Guard.Detection;

namespace Gateway.Guard.Tests;

// Scores the built-in detectors against Corpus/corpus.jsonl (made by Corpus/generate_corpus.py): per entity
// type, a detection is a true positive when it overlaps a labelled value of the same type. The structured
// types must reach recall >= 0.98 and precision >= 0.95; PERSON is reported, not held to that bar.
public sealed class CorpusTests(ITestOutputHelper output)
{
    private static readonly string[] Structured =
        ["EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS", "CRYPTO", "DATE_OF_BIRTH", "URL", "SECRET"];

    internal sealed record Score(int TruePositives, int FalsePositives, int FalseNegatives)
    {
        public double Precision => TruePositives + FalsePositives == 0 ? 1 : (double)TruePositives / (TruePositives + FalsePositives);

        public double Recall => TruePositives + FalseNegatives == 0 ? 1 : (double)TruePositives / (TruePositives + FalseNegatives);
    }

    internal static Dictionary<string, Score> Evaluate(List<string>? mistakes = null)
    {
        var tp = new Dictionary<string, int>();
        var fp = new Dictionary<string, int>();
        var fn = new Dictionary<string, int>();
        var found = new List<EntityMatch>();
        foreach (var line in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Corpus", "corpus.jsonl")))
        {
            using var document = JsonDocument.Parse(line);
            var text = document.RootElement.GetProperty("text").GetString()!;
            var id = document.RootElement.GetProperty("id").GetInt32();
            var labels = new List<(string Type, int Start, int End, bool Hit)>();
            var searchFrom = new Dictionary<string, int>();
            foreach (var entity in document.RootElement.GetProperty("entities").EnumerateArray())
            {
                var type = entity.GetProperty("type").GetString()!;
                var value = entity.GetProperty("value").GetString()!;
                var start = text.IndexOf(value, searchFrom.GetValueOrDefault(value), StringComparison.Ordinal);
                Assert.True(start >= 0, $"corpus #{id}: label not in text");
                searchFrom[value] = start + 1;
                labels.Add((type, start, start + value.Length, false));
            }
            found.Clear();
            PiiScanner.Scan(text, found);
            foreach (var match in found)
            {
                var index = labels.FindIndex(l => l.Type == match.Type && l.Start < match.End && match.Start < l.End);
                if (index >= 0)
                {
                    if (!labels[index].Hit)
                    {
                        tp[match.Type] = tp.GetValueOrDefault(match.Type) + 1;
                        labels[index] = labels[index] with { Hit = true };
                    }
                }
                else
                {
                    fp[match.Type] = fp.GetValueOrDefault(match.Type) + 1;
                    mistakes?.Add($"FP #{id} {match.Type}: '{text.Substring(match.Start, match.Length)}'");
                }
            }
            foreach (var label in labels.Where(l => !l.Hit))
            {
                fn[label.Type] = fn.GetValueOrDefault(label.Type) + 1;
                mistakes?.Add($"FN #{id} {label.Type}: '{text[label.Start..label.End]}'");
            }
        }
        return tp.Keys.Union(fp.Keys).Union(fn.Keys).Order(StringComparer.Ordinal)
            .ToDictionary(t => t, t => new Score(tp.GetValueOrDefault(t), fp.GetValueOrDefault(t), fn.GetValueOrDefault(t)));
    }

    [Fact]
    public void Corpus_StructuredTypes_MeetPrecisionAndRecallTargets()
    {
        var mistakes = new List<string>();
        var scores = Evaluate(mistakes);
        var report = new StringBuilder("type            TP   FP   FN  precision  recall\n");
        foreach (var (type, score) in scores)
        {
            report.AppendLine($"{type,-14} {score.TruePositives,4} {score.FalsePositives,4} {score.FalseNegatives,4}  {score.Precision,9:0.000}  {score.Recall,6:0.000}");
        }
        output.WriteLine(report.ToString());
        foreach (var mistake in mistakes)
        {
            output.WriteLine(mistake);
        }
        // Also kept beside the test binary (bin/.../corpus-report.txt), for reading after a passing run.
        File.WriteAllText(Path.Combine(AppContext.BaseDirectory, "corpus-report.txt"), report + string.Join('\n', mistakes));
        foreach (var type in Structured)
        {
            Assert.True(scores.ContainsKey(type), $"the corpus has no {type} examples");
            Assert.True(scores[type].Recall >= 0.98, $"{type} recall {scores[type].Recall:0.000} < 0.98\n{report}");
            Assert.True(scores[type].Precision >= 0.95, $"{type} precision {scores[type].Precision:0.000} < 0.95\n{report}");
        }
    }

    [Fact]
    public void Corpus_HasAtLeast300TextsAndHardNegatives()
    {
        var lines = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Corpus", "corpus.jsonl"));
        Assert.True(lines.Length >= 300);
        Assert.Contains(lines, l => l.Contains("AKIAIOSFODNN7EXAMPLE", StringComparison.Ordinal));
        Assert.True(lines.Count(l => l.Contains("\"entities\": []", StringComparison.Ordinal)) >= 50);
    }
}
