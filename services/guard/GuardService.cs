using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Contracts.Guard.V1;
using Gateway.Guard.Policy;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Gateway.Guard;

public sealed class GuardMarker;

public static class GuardService
{
    public static IServiceCollection AddGuard(this IServiceCollection services, GatewayConfig config)
    {
        services.AddSingleton<GuardTelemetry>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ExternalModeration>();
        services.AddSingleton<GuardEngine>();
        services.AddSingleton<IGuardService>(sp => sp.GetRequiredService<GuardEngine>());
        return services;
    }

    // The guard a caller uses: the guard service over gRPC when services.guard names one, else one hosted here.
    public static IServiceCollection AddGuardDependency(this IServiceCollection services, GatewayConfig config)
    {
        if (config.Services.Guard is not { Length: > 0 } guard)
        {
            return services.AddGuard(config);
        }
        services.AddServiceClient<Contracts.Guard.V1.Guard.GuardClient>(guard, config.Services);
        return services.AddSingleton<IGuardService, GrpcGuardService>();
    }

    public static IEndpointRouteBuilder MapGuard(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<GuardGrpcService>();
        return endpoints;
    }
}

public sealed class GuardGrpcService(IGuardService guard) : Contracts.Guard.V1.Guard.GuardBase
{
    public override Task<Verdict> CheckInput(CheckInputRequest request, ServerCallContext context)
        => guard.CheckInputAsync(request, context.CancellationToken);

    public override Task<Verdict> CheckOutput(CheckOutputRequest request, ServerCallContext context)
        => guard.CheckOutputAsync(request, context.CancellationToken);

    public override Task<ScanResponse> Scan(ScanRequest request, ServerCallContext context)
        => guard.ScanAsync(request, context.CancellationToken);
}
