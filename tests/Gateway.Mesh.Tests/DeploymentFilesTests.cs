using System.Diagnostics;
using Gateway.Common.Configuration;
using YamlDotNet.RepresentationModel;

namespace Gateway.Mesh.Tests;

// deploy/: every file parses, every workload is wired for Dapr and probed on the health endpoints, the Dapr
// components and the compose file name what the services expect, every config file is one the gateway
// accepts, and every Dockerfile builds a project that exists. Images are built only where a Docker engine
// answers; without one the static checks stand alone and the test says so.
public sealed class DeploymentFilesTests
{
    private static readonly string Root = ProcessMeshTests.RepositoryRoot;
    private static readonly string[] Services = ["edge", "router", "guard", "budget", "prompts", "traces", "mcp"];

    private static List<YamlMappingNode> Documents(string relativePath)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(Path.Combine(Root, relativePath));
        stream.Load(reader);
        return stream.Documents.Select(d => (YamlMappingNode)d.RootNode).ToList();
    }

    private static string? Text(YamlNode node, params string[] path)
    {
        foreach (var key in path)
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out var next))
            {
                return null;
            }
            node = next;
        }
        return (node as YamlScalarNode)?.Value;
    }

    private static YamlNode? Node(YamlNode node, params string[] path)
    {
        foreach (var key in path)
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out var next))
            {
                return null;
            }
            node = next;
        }
        return node;
    }

    [Fact]
    public void EveryYamlFileUnderDeploy_Parses()
    {
        var files = Directory.GetFiles(Path.Combine(Root, "deploy"), "*.yaml", SearchOption.AllDirectories);

        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var exception = Record.Exception(() => Documents(Path.GetRelativePath(Root, file)));
            Assert.True(exception is null, $"{file}: {exception?.Message}");
        }
    }

    [Theory]
    [MemberData(nameof(ServiceNames))]
    public void Deployment_HasDaprAnnotationsProbesResourcesAndAService(string service)
    {
        var documents = Documents($"deploy/k8s/{service}.yaml");
        var deployment = Assert.Single(documents, d => Text(d, "kind") == "Deployment");
        var annotations = Node(deployment, "spec", "template", "metadata", "annotations")!;
        Assert.Equal("true", Text(annotations, "dapr.io/enabled"));
        Assert.Equal(service, Text(annotations, "dapr.io/app-id"));
        Assert.Equal("8080", Text(annotations, "dapr.io/app-port"));
        Assert.Contains(Text(annotations, "dapr.io/app-protocol"), new[] { "http", "grpc" });

        var container = (YamlMappingNode)((YamlSequenceNode)Node(deployment, "spec", "template", "spec", "containers")!).Children.Single();
        Assert.Equal("/readyz", Text(container, "readinessProbe", "httpGet", "path"));
        Assert.Equal("/healthz", Text(container, "livenessProbe", "httpGet", "path"));
        Assert.NotNull(Text(container, "resources", "requests", "cpu"));
        Assert.NotNull(Text(container, "resources", "requests", "memory"));
        Assert.NotNull(Text(container, "resources", "limits", "memory"));
        Assert.Equal("true", Text(deployment, "spec", "template", "spec", "securityContext", "runAsNonRoot"));

        var kubeService = Assert.Single(documents, d => Text(d, "kind") == "Service");
        Assert.Equal(service, Text(kubeService, "metadata", "name"));
        var kustomization = File.ReadAllText(Path.Combine(Root, "deploy/k8s/kustomization.yaml"));
        Assert.Contains($"- {service}.yaml", kustomization, StringComparison.Ordinal);
        Assert.Contains($"- config/{service}.yaml", kustomization, StringComparison.Ordinal);
    }

    [Fact]
    public void Autoscalers_CoverEdgeAndRouter()
    {
        var targets = Documents("deploy/k8s/hpa.yaml")
            .Where(d => Text(d, "kind") == "HorizontalPodAutoscaler")
            .Select(d => Text(d, "spec", "scaleTargetRef", "name"));

        Assert.Equal(["edge", "router"], targets.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("deploy/dapr/pubsub-redis.yaml", "pubsub.redis")]
    [InlineData("deploy/dapr/pubsub-kafka.yaml", "pubsub.kafka")]
    [InlineData("deploy/compose/components/pubsub.yaml", "pubsub.redis")]
    public void PubSubComponents_CarryTheNameTheServicesPublishTo(string file, string type)
    {
        var component = Assert.Single(Documents(file));

        Assert.Equal("Component", Text(component, "kind"));
        Assert.Equal(type, Text(component, "spec", "type"));
        foreach (var config in Directory.GetFiles(Path.Combine(Root, "deploy/k8s/config"), "*.yaml"))
        {
            Assert.Equal(Text(component, "metadata", "name"), ConfigLoader.Load(config, DeploymentEnvironment).Services.Pubsub);
        }
    }

    [Fact]
    public void Resiliency_RetriesInboundDeliveryOnThePubSubComponent()
    {
        var resiliency = Assert.Single(Documents("deploy/dapr/resiliency.yaml"));

        Assert.Equal("Resiliency", Text(resiliency, "kind"));
        var policy = Text(resiliency, "spec", "targets", "components", "pubsub", "inbound", "retry");
        Assert.NotNull(Node(resiliency, "spec", "policies", "retries", policy!));
    }

    [Theory]
    [InlineData("deploy/k8s/config")]
    [InlineData("deploy/local/mesh")]
    public void ConfigFiles_AreAcceptedByTheGateway(string directory)
    {
        foreach (var file in Directory.GetFiles(Path.Combine(Root, directory), "*.yaml"))
        {
            var exception = Record.Exception(() => ConfigLoader.Load(file, DeploymentEnvironment));
            Assert.True(exception is null, $"{file}: {exception?.Message}");
        }
    }

    [Fact]
    public void Compose_RunsEveryServiceWithADaprSidecarAndTheDataStores()
    {
        var compose = Assert.Single(Documents("deploy/compose/docker-compose.yaml"));
        var services = (YamlMappingNode)Node(compose, "services")!;

        foreach (var service in Services)
        {
            Assert.Equal($"deploy/docker/{service}.Dockerfile", Text(services, service, "build", "dockerfile"));
            Assert.Equal($"service:{service}", Text(services, $"{service}-dapr", "network_mode"));
            var command = ((YamlSequenceNode)Node(services, $"{service}-dapr", "command")!).Children.Select(c => ((YamlScalarNode)c).Value).ToList();
            Assert.Equal(service, command[command.IndexOf("--app-id") + 1]);
        }
        foreach (var store in new[] { "redis", "postgres", "clickhouse" })
        {
            Assert.NotNull(Node(services, store));
        }
    }

    [Theory]
    [MemberData(nameof(ServiceNames))]
    public void Dockerfile_MultiStageNonRootWithHealthCheck_PublishesAnExistingProject(string service)
    {
        var dockerfile = File.ReadAllText(Path.Combine(Root, $"deploy/docker/{service}.Dockerfile"));

        Assert.Equal(2, dockerfile.Split('\n').Count(l => l.StartsWith("FROM ", StringComparison.Ordinal)));
        Assert.Contains("USER $APP_UID", dockerfile, StringComparison.Ordinal);
        Assert.Contains("HEALTHCHECK", dockerfile, StringComparison.Ordinal);
        Assert.Contains("/healthz", dockerfile, StringComparison.Ordinal);
        // The load harness measures with this gen0 budget (tests/load/Harness/Targets.cs): what ships is what was measured.
        Assert.Contains("DOTNET_GCgen0size=0x1000000", dockerfile, StringComparison.Ordinal);
        var publish = dockerfile.Split('\n').Single(l => l.StartsWith("RUN dotnet publish ", StringComparison.Ordinal));
        var project = publish.Split(' ')[3];
        Assert.True(File.Exists(Path.Combine(Root, project)), $"{service}.Dockerfile publishes {project}, which does not exist");
        var entry = dockerfile.Split('\n').Single(l => l.StartsWith("ENTRYPOINT", StringComparison.Ordinal));
        var assembly = entry.Split('"')[3];
        var assemblyName = System.Xml.Linq.XDocument.Load(Path.Combine(Root, project)).Descendants("AssemblyName").FirstOrDefault()?.Value
            ?? Path.GetFileNameWithoutExtension(project);
        Assert.Equal(assemblyName + ".dll", assembly);
    }

    [Fact]
    public async Task Images_BuildWhereADockerEngineAnswers()
    {
        if (!await DockerAnswersAsync())
        {
            TestContext.Current.SendDiagnosticMessage("No Docker engine answers here: images not built; the static Dockerfile checks above stand.");
            Assert.Skip("No Docker engine answers (docker info failed); the static Dockerfile checks ran.");
        }
        foreach (var service in Services)
        {
            var (code, output) = await RunAsync("docker", ["build", "-f", $"deploy/docker/{service}.Dockerfile", "-t", $"gateway-{service}:test", "."], TimeSpan.FromMinutes(20));
            Assert.True(code == 0, output);
        }
    }

    public static TheoryData<string> ServiceNames() => new(Services);

    // What the deployment provides through the environment (secrets), with well-formed placeholder values.
    private static string? DeploymentEnvironment(string name) => name switch
    {
        "GATEWAY_PLATFORM_KEY_SHA256" => new string('0', 64),
        "POSTGRES_URL" => "postgres://gateway:secret@postgres:5432/gateway",
        "CLICKHOUSE_URL" => "clickhouse://gateway:secret@clickhouse:8123/gateway",
        "REDIS_URL" => "redis://redis:6379",
        "GATEWAY_ADMIN_KEY" => "admin-key-0123456789abcdef",
        _ => null,
    };

    private static async Task<bool> DockerAnswersAsync()
    {
        try
        {
            return (await RunAsync("docker", ["info"], TimeSpan.FromSeconds(20))).ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, string[] arguments, TimeSpan timeout)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Root })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cancel.Token);
        return (process.ExitCode, await output + await error);
    }
}
