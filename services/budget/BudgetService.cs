using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Contracts.Budget.V1;
using Grpc.Core;

namespace Gateway.Budget;

public sealed class BudgetMarker;

public static class BudgetService
{
    public static IServiceCollection AddBudget(this IServiceCollection services, GatewayConfig config)
    {
        services.AddSingleton<BudgetLedger>();
        services.AddSingleton<IBudgetService>(sp => sp.GetRequiredService<BudgetLedger>());
        return services;
    }

    public static IEndpointRouteBuilder MapBudget(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<BudgetGrpcService>();
        return endpoints;
    }
}

// Budgets are not configurable yet (the budgets issue adds them): every request is admitted, the
// reservation says no budget applies (remaining < 0, no budget names), and nothing is held.
public sealed class BudgetLedger : IBudgetService
{
    public Task<Reservation> ReserveAsync(ReserveRequest request, CancellationToken cancellationToken)
        => Task.FromResult(new Reservation { Admitted = true, RemainingUsd = -1, Message = "no budget applies to this principal" });

    public Task SettleAsync(SettleRequest request, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task ReleaseAsync(ReleaseRequest request, CancellationToken cancellationToken) => Task.CompletedTask;
}

public sealed class BudgetGrpcService(IBudgetService budget) : Contracts.Budget.V1.Budget.BudgetBase
{
    public override Task<Reservation> Reserve(ReserveRequest request, ServerCallContext context)
        => budget.ReserveAsync(request, context.CancellationToken);

    public override async Task<SettleResponse> Settle(SettleRequest request, ServerCallContext context)
    {
        await budget.SettleAsync(request, context.CancellationToken);
        return new SettleResponse();
    }

    public override async Task<SettleResponse> Release(ReleaseRequest request, ServerCallContext context)
    {
        await budget.ReleaseAsync(request, context.CancellationToken);
        return new SettleResponse();
    }
}
