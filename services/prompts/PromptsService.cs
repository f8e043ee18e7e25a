using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Contracts.Prompts.V1;
using Grpc.Core;

namespace Gateway.Prompts;

public sealed class PromptsMarker;

public static class PromptsService
{
    public static IServiceCollection AddPrompts(this IServiceCollection services, GatewayConfig config)
    {
        services.AddSingleton<PromptCatalog>();
        services.AddSingleton<IPromptService>(sp => sp.GetRequiredService<PromptCatalog>());
        return services;
    }

    public static IEndpointRouteBuilder MapPrompts(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<PromptsGrpcService>();
        return endpoints;
    }
}

// The prompt store arrives with the prompts issue. Until then it holds no prompts, and a request that
// references one is told so (404) instead of being served without its template.
public sealed class PromptCatalog : IPromptService
{
    public Task<ResolvedPrompt> ResolveAsync(ResolveRequest request, CancellationToken cancellationToken)
        => throw new GatewayException(ErrorKind.NotFound, $"Prompt '{request.Reference.Id}' was not found: the prompt store is empty.", "prompt.id", "prompt_not_found");
}

public sealed class PromptsGrpcService(IPromptService prompts) : Contracts.Prompts.V1.Prompts.PromptsBase
{
    public override async Task<ResolvedPrompt> Resolve(ResolveRequest request, ServerCallContext context)
    {
        try
        {
            return await prompts.ResolveAsync(request, context.CancellationToken);
        }
        catch (GatewayException e)
        {
            throw GrpcErrors.ToRpcException(e, "");
        }
    }
}
