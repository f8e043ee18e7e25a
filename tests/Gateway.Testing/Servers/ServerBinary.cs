using Xunit;

namespace Gateway.Testing.Servers;

// Where a real server's binary lives. A test skips only on a developer machine without it; in CI (CI=true),
// where .ci/run installs it, a missing binary fails the test.
public static class ServerBinary
{
    public static string Require(string description, params string[] candidates)
    {
        foreach (var candidate in candidates)
        {
            if (Find(candidate) is { } path)
            {
                return path;
            }
        }
        var message = $"{description} is not installed ({string.Join(", ", candidates)}); .ci/run installs it (apt-get install -y redis-server postgresql).";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException(message);
        }
        Assert.Skip(message);
        return "";
    }

    private static string? Find(string name)
    {
        if (name.Contains('*', StringComparison.Ordinal))
        {
            // /usr/lib/postgresql/*/bin/initdb: the newest installed version.
            var parts = name.Split('*', 2);
            var root = Path.GetDirectoryName(parts[0].TrimEnd('/')) is { } parent && Directory.Exists(parts[0]) ? parts[0] : parts[0];
            if (!Directory.Exists(root))
            {
                return null;
            }
            return Directory.GetDirectories(root)
                .Select(d => d + parts[1])
                .Where(File.Exists)
                .OrderByDescending(p => int.TryParse(Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(p))), out var v) ? v : 0)
                .FirstOrDefault();
        }
        if (Path.IsPathRooted(name))
        {
            return File.Exists(name) ? name : null;
        }
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            var path = Path.Combine(directory, name);
            if (File.Exists(path))
            {
                return path;
            }
        }
        return null;
    }
}
