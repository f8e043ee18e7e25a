using Gateway.Common.Configuration;
using Gateway.Contracts.Mcp.V1;
using Grpc.Core;

namespace Gateway.Mcp;

public sealed class McpMarker;

public static class McpService
{
    public static IServiceCollection AddMcp(this IServiceCollection services, GatewayConfig config) => services;

    public static IEndpointRouteBuilder MapMcp(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<McpCatalogGrpcService>();
        return endpoints;
    }
}

// No MCP upstreams can be registered yet (the MCP gateway issue adds them): the catalogue is truthfully empty.
public sealed class McpCatalogGrpcService : McpCatalog.McpCatalogBase
{
    public override Task<ListServersResponse> ListServers(ListServersRequest request, ServerCallContext context)
        => Task.FromResult(new ListServersResponse());
}
