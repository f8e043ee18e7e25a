using Gateway.Common.Configuration;
using static Gateway.Common.Tests.Configuration.ConfigAssert;

namespace Gateway.Common.Tests.Configuration;

// The `prompts:` section binds as documented, defaults apply, and each mistake names its key path.
public sealed class PromptsConfigTests
{
    [Fact]
    public void Parse_PromptsSection_BindsAndReplacesDefaults()
    {
        var config = ConfigLoader.Parse(ProviderAndModel + """

            prompts:
              sync_dir: ./prompts
              protected_labels: [production, release]
              editor_role: prompt-team
              refresh_milliseconds: 100
              min_samples_per_arm: 500
            """, NoEnvironment);

        Assert.Equal("./prompts", config.Prompts.SyncDir);
        Assert.Equal(["production", "release"], config.Prompts.ProtectedLabels);
        Assert.Equal(("prompt-team", 100, 500), (config.Prompts.EditorRole, config.Prompts.RefreshMilliseconds, config.Prompts.MinSamplesPerArm));
    }

    [Fact]
    public void Parse_NoPromptsSection_UsesDefaults()
    {
        var config = ConfigLoader.Parse(ProviderAndModel, NoEnvironment);

        Assert.Equal(["production"], config.Prompts.ProtectedLabels);
        Assert.Equal(250, config.Prompts.RefreshMilliseconds);
        Assert.Null(config.Prompts.SyncDir);
    }

    [Theory]
    [InlineData("refresh_milliseconds: 10", "prompts.refresh_milliseconds", "between 50 and 60000")]
    [InlineData("protected_labels: [latest]", "prompts.protected_labels[0]", "implicit")]
    [InlineData("editor_role: \"a b\"", "prompts.editor_role", "role name")]
    [InlineData("min_samples_per_arm: 1", "prompts.min_samples_per_arm", "between 2")]
    public void Parse_BadPromptsValue_NamesTheKey(string line, string path, string phrase)
        => Single(ProviderAndModel + "\nprompts:\n  " + line + "\n", path, phrase);
}
