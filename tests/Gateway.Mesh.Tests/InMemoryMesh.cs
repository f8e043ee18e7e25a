using Gateway.Budget;
using Gateway.Common.Hosting;
using Gateway.Edge;
using Gateway.Guard;
using Gateway.Prompts;
using Gateway.Router;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using BudgetClient = Gateway.Contracts.Budget.V1.Budget.BudgetClient;
using GuardClient = Gateway.Contracts.Guard.V1.Guard.GuardClient;
using InferenceClient = Gateway.Contracts.Inference.V1.Inference.InferenceClient;
using PromptsClient = Gateway.Contracts.Prompts.V1.Prompts.PromptsClient;

namespace Gateway.Mesh.Tests;

// The whole mesh in this test process, each service behind its own in-memory server (TestServer): the edge
// calls the router over gRPC, the router calls guard, budget and prompts over gRPC — every channel runs over
// the callee's TestServer handler instead of a socket. Each service reads its own config file.
public sealed class InMemoryMesh : IAsyncDisposable
{
    private readonly List<WebApplication> _hosts = [];
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "gateway-inmemory-mesh", Guid.NewGuid().ToString("N"));

    public WebApplication Edge { get; private set; } = null!;
    public WebApplication Router { get; private set; } = null!;
    public WebApplication Guard { get; private set; } = null!;
    public WebApplication Budget { get; private set; } = null!;
    public WebApplication Prompts { get; private set; } = null!;

    public TestServer EdgeServer => Edge.GetTestServer();

    // `common` is the configuration every service reads (providers, models, keys, guard, budgets);
    // `configure` may add to each service's host before it is built (by service name).
    public static async Task<InMemoryMesh> StartAsync(string common, Action<string, WebApplicationBuilder>? configure = null)
    {
        var mesh = new InMemoryMesh();
        Directory.CreateDirectory(mesh._directory);
        configure ??= (_, _) => { };
        mesh.Guard = await mesh.StartAsync("guard", common, args => Service(args, "guard", b => { configure("guard", b); }, (s, c) => s.AddGuard(c), a => a.MapGuard()));
        mesh.Budget = await mesh.StartAsync("budget", common, args => Service(args, "budget", b => { configure("budget", b); }, (s, c) => s.AddBudget(c), a => a.MapBudget()));
        mesh.Prompts = await mesh.StartAsync("prompts", common, args => Service(args, "prompts", b => { configure("prompts", b); }, (s, c) => s.AddPrompts(c), a => a.MapPrompts()));
        var remote = """

            services:
              guard: http://guard
              budget: http://budget
              prompts: http://prompts
            """;
        mesh.Router = await mesh.StartAsync("router", common + remote, args => RouterHost.Build(args, b =>
        {
            b.WebHost.UseTestServer();
            Channel<GuardClient>(b, mesh.Guard);
            Channel<BudgetClient>(b, mesh.Budget);
            Channel<PromptsClient>(b, mesh.Prompts);
            configure("router", b);
        }));
        mesh.Edge = await mesh.StartAsync("edge", common + """

            services:
              router: http://router
              guard: http://guard
              budget: http://budget
            """, args => EmbeddedGateway.Build(args, b =>
        {
            b.WebHost.UseTestServer();
            Channel<InferenceClient>(b, mesh.Router);
            Channel<GuardClient>(b, mesh.Guard);
            Channel<BudgetClient>(b, mesh.Budget);
            configure("edge", b);
        }));
        return mesh;
    }

    private static WebApplication Service(string[] args, string name, Action<WebApplicationBuilder> configure,
        Action<IServiceCollection, Common.Configuration.GatewayConfig> add, Action<WebApplication> map)
    {
        var builder = ServiceHost.Create(args, name, out var config);
        builder.WebHost.UseTestServer();
        add(builder.Services, config);
        configure(builder);
        var app = builder.Build();
        app.MapGatewayDefaults();
        map(app);
        return app;
    }

    // The generated client's channel goes through the callee's TestServer (its last primary handler wins).
    private static void Channel<TClient>(WebApplicationBuilder builder, WebApplication callee) where TClient : class
        => builder.Services.AddGrpcClient<TClient>().ConfigurePrimaryHttpMessageHandler(() => callee.GetTestServer().CreateHandler());

    private async Task<WebApplication> StartAsync(string name, string yaml, Func<string[], WebApplication> build)
    {
        var path = Path.Combine(_directory, name + ".yaml");
        await File.WriteAllTextAsync(path, $"""
            server:
              admin_key: test-admin-key-0123456789
            storage:
              state: sqlite://{_directory}/{name}-state.db
              traces: sqlite://{_directory}/{name}-traces.db
            {yaml}
            """);
        var app = build(["--config", path]);
        await app.StartAsync();
        _hosts.Add(app);
        return app;
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _hosts.Count - 1; i >= 0; i--)
        {
            await _hosts[i].StopAsync();
            await _hosts[i].DisposeAsync();
        }
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
