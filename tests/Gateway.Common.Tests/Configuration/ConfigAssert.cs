using Gateway.Common.Configuration;

namespace Gateway.Common.Tests.Configuration;

internal static class ConfigAssert
{
    public static readonly Func<string, string?> NoEnvironment = _ => null;

    // A provider and a model that validate; tests append the part they break.
    public const string Provider = """
        providers:
          openai: { kind: openai, base_url: https://api.openai.com/v1 }
        """;

    public const string ProviderAndModel = Provider + """

        models:
          gpt-4o:
            targets: [{ provider: openai, model: gpt-4o }]
        """;

    // The checkout's root, for tests that check the documentation's examples.
    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Gateway.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("Gateway.sln not found above the test binaries.");
    }

    public static IReadOnlyList<ConfigError> ErrorsOf(string yaml, Func<string, string?>? environment = null)
        => Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, environment ?? NoEnvironment)).Errors;

    // Exactly one error, at `path`, whose message contains each of `phrases` (what is wrong and what to do).
    public static ConfigError Single(string yaml, string path, params string[] phrases) => Single(yaml, NoEnvironment, path, phrases);

    public static ConfigError Single(string yaml, Func<string, string?> environment, string path, params string[] phrases)
    {
        var error = Assert.Single(ErrorsOf(yaml, environment));
        Assert.Equal(path, error.Path);
        foreach (var phrase in phrases)
        {
            Assert.Contains(phrase, error.Message, StringComparison.Ordinal);
        }
        return error;
    }
}
