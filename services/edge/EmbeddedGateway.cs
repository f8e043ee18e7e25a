using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Common.Hosting;
using Gateway.Contracts.Inference.V1;
using Gateway.Edge.Admin;
using Gateway.Edge.Anthropic;
using Gateway.Edge.Http;
using Gateway.Edge.OpenAi;
using Gateway.Edge.OpenAi.Responses;
using Gateway.Guard;
using Gateway.Mcp;
using Gateway.Router;
using Gateway.Traces;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Gateway.Edge;

// Marker for the edge's host in tests.
public sealed class EdgeMarker;

// The all-in-one gateway: the REST edge plus every service in this process, unless `services.router`
// names a router elsewhere (then the edge is a thin translator onto that router's gRPC API).
public static class EmbeddedGateway
{
    // `configure` lets a test host replace the server or the channels before the app is built.
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = ServiceHost.Create(args, "gateway", out var config);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = config.Server.MaxRequestBodyBytes;
            // EdgeExceptionMiddleware enforces the configured header limits in each route's error shape.
            HeaderLimits.RaiseToCeiling(kestrel, config.Server.Limits);
        });
        builder.Services.AddEdge(config);
        configure?.Invoke(builder);

        var app = builder.Build();
        app.UseMiddleware<EdgeExceptionMiddleware>();
        app.MapGatewayDefaults();
        app.MapEdge(config);
        app.Lifetime.ApplicationStarted.Register(() => AnnounceAddresses(app));
        return app;
    }

    public static IServiceCollection AddEdge(this IServiceCollection services, GatewayConfig config)
    {
        services.AddSingleton<ResponseStore>();
        if (config.Services.Router is { Length: > 0 } router)
        {
            services.AddServiceClient<Inference.InferenceClient>(router, config.Services);
            services.AddSingleton<IInferenceService, GrpcInferenceService>();
            // The admin guard scan needs a guard: the remote one, or one hosted here (it is stateless).
            services.AddGuardDependency(config);
            if (config.Services.Budget is { Length: > 0 })
            {
                // The admin API's budget view reads the budget service directly; a ledger of its own here
                // would be a second, wrong ledger.
                services.AddBudgetDependency(config);
            }
            if (config.Services.Prompts is { Length: > 0 })
            {
                // The admin prompt API reads and writes the prompts service directly.
                services.AddPromptsDependency(config);
            }
            if (config.Services.Pubsub is { Length: > 0 })
            {
                // Traces travel to the traces service; the admin trace API and the dashboard read the store it
                // writes (ClickHouse in production), as analysts do.
                services.AddSingleton(sp => TracesService.OpenStore(config, sp.GetRequiredService<TimeProvider>()));
            }
            return services;
        }
        services.AddRouter(config);
        services.AddRouterDependencies(config);
        services.AddTraces(config);
        services.AddMcp(config);
        return services;
    }

    public static IEndpointRouteBuilder MapEdge(this IEndpointRouteBuilder endpoints, GatewayConfig config)
    {
        endpoints.MapOpenAi();
        endpoints.MapFeedback();
        endpoints.MapResponses();
        endpoints.MapAnthropic();
        endpoints.MapGuardAdmin();
        if (config.Services.Router is not { Length: > 0 })
        {
            // Only the public Inference API is served on the gRPC port; guard, budget and prompts are
            // in-process calls here and must not be reachable from outside.
            endpoints.MapRouter();
            endpoints.MapMcpGateway();
            endpoints.MapMcpAdmin();
            endpoints.MapAdminRouting();
            // The trace store lives in this process: the admin trace API and the dashboard read it.
            endpoints.MapTracesAdmin();
            endpoints.MapDashboard();
        }
        else if (config.Services.Pubsub is { Length: > 0 })
        {
            endpoints.MapTracesAdmin();
            endpoints.MapDashboard();
        }
        if (config.Services.Router is not { Length: > 0 } || config.Services.Budget is { Length: > 0 })
        {
            endpoints.MapBudgetAdmin();
        }
        if (config.Services.Router is not { Length: > 0 } || config.Services.Prompts is { Length: > 0 })
        {
            endpoints.MapPromptsAdmin();
        }
        endpoints.Map("/v1/{**path}", async context =>
        {
            GatewayHeaders.AssignRequestId(context);
            await ErrorWriter.WriteAsync(context, new GatewayException(ErrorKind.NotFound,
                $"Unknown route: {context.Request.Method} {context.Request.Path}.", code: "unknown_route"),
                ErrorWriter.ShapeFor(context));
        });
        return endpoints;
    }

    private static void AnnounceAddresses(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        EdgeLog.Listening(app.Logger, string.Join(", ", addresses));
    }
}
