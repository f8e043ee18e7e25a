using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Gateway.Common.Configuration;
using static Gateway.Common.Tests.Configuration.ConfigAssert;

namespace Gateway.Common.Tests.Configuration;

// providers of kind bedrock and vertex: region, project and credentials, each error at its key path.
public sealed class CloudProviderConfigTests
{
    private static readonly Lazy<string> ServiceAccount = new(() =>
    {
        using var rsa = RSA.Create(2048);
        return new JsonObject
        {
            ["type"] = "service_account",
            ["client_email"] = "gw@acme-prod.iam.gserviceaccount.com",
            ["private_key_id"] = "k1",
            ["private_key"] = rsa.ExportPkcs8PrivateKeyPem(),
            ["token_uri"] = "https://oauth2.googleapis.com/token",
        }.ToJsonString();
    });

    private static string Models(string provider) => $"\nmodels:\n  m:\n    targets: [{{ provider: {provider}, model: some-model }}]\n";

    [Fact]
    public void Parse_BedrockWithEnvironmentKeys_BindsRegionAndCredentials()
    {
        var environment = new Dictionary<string, string> { ["AWS_KEY"] = "AKIAEXAMPLE000000001", ["AWS_SECRET"] = "secret/0123456789abcdefghijklmnopqrstu" };

        var config = ConfigLoader.Parse("""
            providers:
              bedrock:
                kind: bedrock
                region: eu-central-1
                aws: { access_key_id: ${AWS_KEY}, secret_access_key: ${AWS_SECRET} }
            """ + Models("bedrock"), name => environment.GetValueOrDefault(name));

        var bedrock = config.Providers["bedrock"];
        Assert.Equal(("bedrock", "eu-central-1", ""), (bedrock.Kind, bedrock.Region, bedrock.BaseUrl));
        Assert.Equal("AKIAEXAMPLE000000001", bedrock.Aws!.AccessKeyId);
        Assert.Equal("http://169.254.169.254", bedrock.Aws.ImdsEndpoint);
        Assert.DoesNotContain("secret/0123", bedrock.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BedrockWithoutCredentials_IsValid()
        => Assert.Null(ConfigLoader.Parse("providers:\n  bedrock: { kind: bedrock, region: us-west-2 }" + Models("bedrock"), NoEnvironment).Providers["bedrock"].Aws);

    [Fact]
    public void Parse_BedrockWithoutRegion_AsksForIt()
        => Single("providers:\n  bedrock: { kind: bedrock }" + Models("bedrock"), "providers.bedrock.region", "required for bedrock; set the AWS region, e.g. us-east-1");

    [Fact]
    public void Parse_BedrockBadRegion_ShowsTheForm()
        => Single("providers:\n  bedrock: { kind: bedrock, region: virginia }" + Models("bedrock"), "providers.bedrock.region", "expected an AWS region such as us-east-1", "found 'virginia'");

    [Fact]
    public void Parse_BedrockKeyIdWithoutSecret_NamesTheMissingHalf()
        => Single("providers:\n  bedrock: { kind: bedrock, region: us-east-1, aws: { access_key_id: AKIAEXAMPLE000000001 } }" + Models("bedrock"),
            "providers.bedrock.aws.secret_access_key", "access_key_id and secret_access_key go together");

    [Fact]
    public void Parse_BedrockBadImdsEndpoint_SaysWhatItShouldBe()
        => Single("providers:\n  bedrock: { kind: bedrock, region: us-east-1, aws: { imds_endpoint: metadata } }" + Models("bedrock"),
            "providers.bedrock.aws.imds_endpoint", "expected the instance metadata service's URL, e.g. http://169.254.169.254");

    [Fact]
    public void Parse_RegionOnAnOpenAiProvider_IsRefused()
        => Single("providers:\n  openai: { kind: openai, base_url: https://api.openai.com/v1, region: us-east-1 }" + Models("openai"),
            "providers.openai.region", "is used only by the bedrock and vertex kinds");

    [Fact]
    public void Parse_VertexWithServiceAccountJson_IsValid()
    {
        var environment = new Dictionary<string, string> { ["VERTEX_SA"] = ServiceAccount.Value };

        var config = ConfigLoader.Parse("providers:\n  vertex: { kind: vertex, region: us-central1, project: acme-prod, google: { service_account_json: ${VERTEX_SA} } }" + Models("vertex"),
            name => environment.GetValueOrDefault(name));

        Assert.Equal(("us-central1", "acme-prod"), (config.Providers["vertex"].Region, config.Providers["vertex"].Project));
        Assert.DoesNotContain("PRIVATE KEY", config.Providers["vertex"].ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_VertexWithoutProjectOrCredentials_ReportsBoth()
    {
        var errors = ErrorsOf("providers:\n  vertex: { kind: vertex, region: us-central1 }" + Models("vertex"));

        Assert.Equal(["providers.vertex.project", "providers.vertex.google"], errors.Select(e => e.Path));
    }

    [Fact]
    public void Parse_VertexBadLocation_ShowsTheForm()
    {
        var environment = new Dictionary<string, string> { ["VERTEX_SA"] = ServiceAccount.Value };

        Single("providers:\n  vertex: { kind: vertex, region: 'us central', project: acme-prod, google: { service_account_json: ${VERTEX_SA} } }" + Models("vertex"),
            name => environment.GetValueOrDefault(name), "providers.vertex.region", "expected a Google Cloud location such as us-central1");
    }

    [Fact]
    public void Parse_VertexMissingKeyFile_SaysItCannotBeRead()
        => Single("providers:\n  vertex: { kind: vertex, region: global, project: acme-prod, google: { service_account_file: /nonexistent/sa.json } }" + Models("vertex"),
            "providers.vertex.google.service_account_file", "cannot read '/nonexistent/sa.json'");

    [Fact]
    public void Parse_VertexKeyWithoutPrivateKey_SaysWhatIsMissingWithoutQuotingIt()
    {
        var environment = new Dictionary<string, string> { ["VERTEX_SA"] = """{"type":"service_account","client_email":"gw@acme.iam.gserviceaccount.com","private_key_id":"secret-id-123"}""" };

        var error = Single("providers:\n  vertex: { kind: vertex, region: us-central1, project: acme-prod, google: { service_account_json: ${VERTEX_SA} } }" + Models("vertex"),
            name => environment.GetValueOrDefault(name), "providers.vertex.google.service_account_json", "lacks client_email or private_key");

        Assert.DoesNotContain("secret-id-123", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_VertexWithApiKey_PointsAtTheServiceAccount()
    {
        var environment = new Dictionary<string, string> { ["VERTEX_SA"] = ServiceAccount.Value };

        Single("providers:\n  vertex: { kind: vertex, region: us-central1, project: acme-prod, api_key: abc, google: { service_account_json: ${VERTEX_SA} } }" + Models("vertex"),
            name => environment.GetValueOrDefault(name), "providers.vertex.api_key", "is not used by vertex");
    }
}
