using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Budget;
using Gateway.Contracts.Budget.V1;
using Gateway.Contracts.Guard.V1;
using Gateway.Contracts.Prompts.V1;
using Gateway.Guard;
using Gateway.Prompts;
using Gateway.Router.Inference;
using Gateway.Router.Pipeline;
using Gateway.Router.Providers;
using Gateway.Router.Providers.Gemini;
using Gateway.Router.Providers.Anthropic;
using Gateway.Router.Providers.Bedrock;
using Gateway.Router.Providers.Vertex;
using Gateway.Router.Providers.OpenAI;
using Gateway.Router.Routing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Router;

// Marker for the router's host in tests (WebApplicationFactory<RouterMarker>).
public sealed class RouterMarker;

public static class RouterService
{
    public static IServiceCollection AddRouter(this IServiceCollection services, GatewayConfig config)
    {
        services.AddSingleton<RouterTelemetry>();
        services.AddSingleton<RoutingState>();
        services.AddSingleton<ResiliencePipelines>();
        services.AddSingleton<RoutePlanner>();
        services.AddSingleton<FailoverRunner>();
        services.AddSingleton<ProviderHttp>();
        services.AddSingleton<ProviderRegistry>();
        services.AddSingleton<IChatProvider, OpenAiProvider>();
        services.AddSingleton<IChatProvider, AzureOpenAiProvider>();
        services.AddSingleton<IChatProvider, GeminiProvider>();
        services.AddSingleton<IChatProvider, AnthropicProvider>();
        services.AddSingleton<AwsCredentialSource>();
        services.AddSingleton<IChatProvider, BedrockProvider>();
        services.AddSingleton<GoogleTokenSource>();
        services.AddSingleton<IChatProvider, VertexProvider>();
        services.AddSingleton<StreamSlots>();
        services.AddSingleton<InferencePipeline>();
        services.AddSingleton<IInferenceService>(sp => sp.GetRequiredService<InferencePipeline>());
        services.AddHttpClient(ProviderHttp.ClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
                MaxConnectionsPerServer = 1024,
                EnableMultipleHttp2Connections = true,
                AutomaticDecompression = System.Net.DecompressionMethods.All,
                // Providers are configured by operators only; never follow a redirect somewhere else.
                AllowAutoRedirect = false,
            })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            // The factory's per-request log handlers (a scope and two Information lines per upstream call, which
            // the log level drops anyway) cost ~5% of a request's CPU in a profile; attempts are on the trace.
            .RemoveAllLoggers();
        // Instance metadata and OAuth token endpoints answer in milliseconds or not at all.
        services.AddHttpClient(ProviderHttp.CredentialsClientName, client => client.Timeout = TimeSpan.FromSeconds(10))
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false });
        services.AddGrpc(options => options.MaxReceiveMessageSize = (int)Math.Min(int.MaxValue, config.Server.MaxRequestBodyBytes));
        return services;
    }

    // The router's dependencies: over gRPC where `services.<name>` has an address, else hosted here.
    public static IServiceCollection AddRouterDependencies(this IServiceCollection services, GatewayConfig config)
        => services.AddGuardDependency(config).AddBudgetDependency(config).AddPromptsDependency(config);

    public static IServiceCollection AddBudgetDependency(this IServiceCollection services, GatewayConfig config)
    {
        if (config.Services.Budget is not { Length: > 0 } budget)
        {
            return services.AddBudget(config);
        }
        services.AddServiceClient<Contracts.Budget.V1.Budget.BudgetClient>(budget, config.Services);
        return services.AddSingleton<IBudgetService, GrpcBudgetService>();
    }

    public static IServiceCollection AddPromptsDependency(this IServiceCollection services, GatewayConfig config)
    {
        if (config.Services.Prompts is not { Length: > 0 } prompts)
        {
            return services.AddPrompts(config);
        }
        services.AddServiceClient<Contracts.Prompts.V1.Prompts.PromptsClient>(prompts, config.Services);
        return services.AddSingleton<IPromptService, GrpcPromptService>();
    }

    public static IEndpointRouteBuilder MapRouter(this IEndpointRouteBuilder endpoints)
    {
        var config = endpoints.ServiceProvider.GetRequiredService<ConfigMonitor>().Current;
        endpoints.MapGrpcService<InferenceGrpcService>().RefuseUndecodableRequests(config.Server.MaxRequestBodyBytes);
        return endpoints;
    }
}
