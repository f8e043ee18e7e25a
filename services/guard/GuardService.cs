using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Contracts.Guard.V1;
using Grpc.Core;

namespace Gateway.Guard;

public sealed class GuardMarker;

public static class GuardService
{
    public static IServiceCollection AddGuard(this IServiceCollection services, GatewayConfig config)
    {
        services.AddSingleton<GuardEngine>();
        services.AddSingleton<IGuardService>(sp => sp.GetRequiredService<GuardEngine>());
        return services;
    }

    public static IEndpointRouteBuilder MapGuard(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<GuardGrpcService>();
        return endpoints;
    }
}

// No detection policies exist yet (the guard issue adds them). Until then the guard allows everything
// and says so in every verdict, so a trace never suggests the request was inspected.
public sealed class GuardEngine : IGuardService
{
    private const string Note = "no guard policy is configured: content passed without inspection";

    public Task<Verdict> CheckInputAsync(CheckInputRequest request, CancellationToken cancellationToken)
        => Task.FromResult(new Verdict { Action = Contracts.Guard.V1.Action.Allow, Policy = "none", Note = Note });

    public Task<Verdict> CheckOutputAsync(CheckOutputRequest request, CancellationToken cancellationToken)
        => Task.FromResult(new Verdict { Action = Contracts.Guard.V1.Action.Allow, Policy = "none", Note = Note });
}

public sealed class GuardGrpcService(IGuardService guard) : Contracts.Guard.V1.Guard.GuardBase
{
    public override Task<Verdict> CheckInput(CheckInputRequest request, ServerCallContext context)
        => guard.CheckInputAsync(request, context.CancellationToken);

    public override Task<Verdict> CheckOutput(CheckOutputRequest request, ServerCallContext context)
        => guard.CheckOutputAsync(request, context.CancellationToken);
}
