using Gateway.Contracts.Prompts.V1;

namespace Gateway.Prompts;

// A line diff by longest common subsequence: versions are small documents, so the quadratic table is cheap.
public static class LineDiff
{
    public static IEnumerable<DiffLine> Compute(IReadOnlyList<string> from, IReadOnlyList<string> to)
    {
        var common = new int[from.Count + 1, to.Count + 1];
        for (var i = from.Count - 1; i >= 0; i--)
        {
            for (var j = to.Count - 1; j >= 0; j--)
            {
                common[i, j] = from[i] == to[j] ? common[i + 1, j + 1] + 1 : Math.Max(common[i + 1, j], common[i, j + 1]);
            }
        }
        int a = 0, b = 0;
        while (a < from.Count || b < to.Count)
        {
            if (a < from.Count && b < to.Count && from[a] == to[b])
            {
                yield return new DiffLine { Op = "=", Text = from[a] };
                a++;
                b++;
            }
            else if (b < to.Count && (a == from.Count || common[a, b + 1] >= common[a + 1, b]))
            {
                yield return new DiffLine { Op = "+", Text = to[b++] };
            }
            else
            {
                yield return new DiffLine { Op = "-", Text = from[a++] };
            }
        }
    }
}
