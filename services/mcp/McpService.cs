using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Guard;
using Gateway.Common.Security;
using Gateway.Contracts.Mcp.V1;
using Gateway.Mcp.Audit;
using Gateway.Mcp.Catalog;
using Gateway.Mcp.Http;
using Gateway.Mcp.Policy;
using Gateway.Mcp.Upstreams;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using ModelContextProtocol.AspNetCore;
using ModelContextProtocol.Protocol;

namespace Gateway.Mcp;

public sealed class McpMarker;

public static class McpService
{
    public static IServiceCollection AddMcp(this IServiceCollection services, GatewayConfig config)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddCredentialAuthentication();
        services.AddSingleton<McpStateStore>();
        services.AddSingleton<McpAuditSink>();
        services.AddSingleton<ToolCatalog>();
        services.AddSingleton<McpPolicy>();
        services.AddSingleton<McpRedactor>();
        if (!services.Any(s => s.ServiceType == typeof(IGuardService)))
        {
            services.AddGuardDependency(config);
        }
        services.AddSingleton<McpGuard>();
        services.AddSingleton<UpstreamRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<UpstreamRegistry>());
        services.AddSingleton<McpGateway>();
        services.AddMcpServer(options =>
            {
                options.ServerInfo = new Implementation { Name = "ai-gateway", Version = "1.0.0" };
                options.Capabilities = new ServerCapabilities
                {
                    Tools = new ToolsCapability { ListChanged = true },
                    Prompts = new PromptsCapability { ListChanged = true },
                    Resources = new ResourcesCapability { ListChanged = true },
                    Logging = new LoggingCapability(),
                };
            })
            .WithHttpTransport(options =>
            {
                // Stateful sessions: sampling, elicitation, progress and logging from upstreams are relayed
                // to the session that made the call.
                options.Stateless = false;
                options.ConfigureSessionOptions = (context, server, _) =>
                {
                    var gateway = context.RequestServices.GetRequiredService<McpGateway>();
                    var virtualName = context.Request.RouteValues.TryGetValue("virtual", out var value) ? value as string : null;
                    server.Handlers.ListToolsHandler = (request, _) => gateway.ListToolsAsync(virtualName, request);
                    server.Handlers.CallToolHandler = (request, cancellationToken) => gateway.CallToolAsync(virtualName, request, cancellationToken);
                    server.Handlers.ListPromptsHandler = (request, _) => gateway.ListPromptsAsync(virtualName, request);
                    server.Handlers.GetPromptHandler = (request, cancellationToken) => gateway.GetPromptAsync(virtualName, request, cancellationToken);
                    server.Handlers.ListResourcesHandler = (request, _) => gateway.ListResourcesAsync(virtualName, request);
                    server.Handlers.ListResourceTemplatesHandler = (request, _) => gateway.ListResourceTemplatesAsync(virtualName, request);
                    server.Handlers.ReadResourceHandler = (request, cancellationToken) => gateway.ReadResourceAsync(virtualName, request, cancellationToken);
                    server.Handlers.SetLoggingLevelHandler = (_, _) => ValueTask.FromResult(new EmptyResult());
                    return Task.CompletedTask;
                };
                options.RunSessionHandler = (context, server, cancellationToken)
                    => context.RequestServices.GetRequiredService<McpGateway>().RunSessionAsync(server, cancellationToken);
            });
        return services;
    }

    // The gRPC catalogue API (mesh) — the MCP Streamable HTTP endpoint itself is MapMcpGateway.
    public static IEndpointRouteBuilder MapMcp(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<McpCatalogGrpcService>();
        endpoints.MapMcpGateway();
        return endpoints;
    }

    // `/mcp` (every tool the caller may call) and `/mcp/{virtual}` (a configured subset), plus the OAuth
    // protected-resource metadata that unauthenticated callers are pointed to.
    public static IEndpointRouteBuilder MapMcpGateway(this IEndpointRouteBuilder endpoints)
    {
        var gateway = endpoints.ServiceProvider.GetRequiredService<McpGateway>();
        var catalog = endpoints.ServiceProvider.GetRequiredService<ToolCatalog>();
        catalog.Changed += gateway.NotifyListsChanged;
        endpoints.MapGet(McpHttpEndpoints.MetadataPath, McpHttpEndpoints.MetadataAsync);
        endpoints.MapGet(McpHttpEndpoints.MetadataPath + "/mcp", McpHttpEndpoints.MetadataAsync);
        foreach (var pattern in new[] { "/mcp", "/mcp/{virtual}" })
        {
            var group = endpoints.MapGroup(pattern);
            group.AddEndpointFilter(async (context, next) =>
            {
                object? result = null;
                await McpHttpEndpoints.GuardAsync(context.HttpContext, async () => result = await next(context));
                return result ?? Results.Empty;
            });
            Microsoft.AspNetCore.Builder.McpEndpointRouteBuilderExtensions.MapMcp(group);
        }
        return endpoints;
    }
}

// The catalogue over gRPC for other services of the mesh.
public sealed class McpCatalogGrpcService(UpstreamRegistry upstreams, ToolCatalog catalog) : McpCatalog.McpCatalogBase
{
    public override Task<ListServersResponse> ListServers(ListServersRequest request, ServerCallContext context)
    {
        var response = new ListServersResponse();
        foreach (var server in upstreams.Servers)
        {
            var info = new McpServer { Name = server.Name, Transport = server.Config.Transport, State = server.State.ToString().ToLowerInvariant() };
            info.Tools.AddRange(catalog.ToolsOf(server.Name).Keys);
            response.Servers.Add(info);
        }
        return Task.FromResult(response);
    }
}
