using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Gateway.Common.Configuration;
using static Gateway.Common.Tests.Configuration.ConfigAssert;

namespace Gateway.Common.Tests.Configuration;

// The examples in docs/providers.md are valid as written (the key file path pointed at a real key).
public sealed class ProvidersDocTests
{
    [Fact]
    public void Parse_DocumentedBedrockAndVertexExamples_AreValid()
    {
        var docs = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "providers.md"));
        var examples = docs.Split("```yaml\n").Skip(1).Select(block => block[..block.IndexOf("```", StringComparison.Ordinal)]).ToList();
        Assert.Equal(2, examples.Count);
        var keyFile = Path.Combine(Path.GetTempPath(), $"sa-{Guid.NewGuid():N}.json");
        using var rsa = RSA.Create(2048);
        File.WriteAllText(keyFile, new JsonObject
        {
            ["type"] = "service_account",
            ["client_email"] = "gw@acme-prod.iam.gserviceaccount.com",
            ["private_key"] = rsa.ExportPkcs8PrivateKeyPem(),
            ["token_uri"] = "https://oauth2.googleapis.com/token",
        }.ToJsonString());
        try
        {
            var environment = new Dictionary<string, string> { ["AWS_ACCESS_KEY_ID"] = "AKIAEXAMPLE000000001", ["AWS_SECRET_ACCESS_KEY"] = "secret/0123456789abcdefghijklmnopqrstu" };
            var bedrock = ConfigLoader.Parse(examples[0], name => environment.GetValueOrDefault(name));
            var vertex = ConfigLoader.Parse(examples[1].Replace("/etc/gateway/vertex-sa.json", keyFile, StringComparison.Ordinal), NoEnvironment);

            Assert.Equal("us.anthropic.claude-sonnet-4-20250514-v1:0", bedrock.Models["claude-sonnet-4"].Targets[0].Model);
            Assert.Null(bedrock.Providers["bedrock-eu"].Aws);
            Assert.Equal(("us-east5", "acme-prod"), (vertex.Providers["vertex"].Region, vertex.Providers["vertex"].Project));
            Assert.Equal(["claude-sonnet-4-vertex"], vertex.Models["claude-sonnet-4"].Fallbacks);
        }
        finally
        {
            File.Delete(keyFile);
        }
    }
}
