using Gateway.Budget.Store;
using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Contracts.Budget.V1;
using Grpc.Core;
using StackExchange.Redis;

namespace Gateway.Budget;

public sealed class BudgetMarker;

public static class BudgetService
{
    public static IServiceCollection AddBudget(this IServiceCollection services, GatewayConfig config)
    {
        services.AddHttpClient(AlertSender.ClientName, client => client.Timeout = TimeSpan.FromSeconds(10));
        services.AddSingleton<AlertSender>();
        services.AddSingleton<IAlertSink>(sp => sp.GetRequiredService<AlertSender>());
        services.AddHostedService(sp => sp.GetRequiredService<AlertSender>());
        services.AddSingleton(_ => SqlLedger.Open(config.Storage.State));
        if (config.Storage.Redis is { Length: > 0 } redis)
        {
            services.AddSingleton(_ => new RedisConnection(RedisOptions(redis)));
            services.AddHostedService(sp => sp.GetRequiredService<RedisConnection>());
            services.AddSingleton<ICounterStore>(sp => new RedisCounterStore(sp.GetRequiredService<RedisConnection>().GetAsync));
        }
        else
        {
            services.AddSingleton<ICounterStore, InMemoryCounterStore>();
        }
        services.AddSingleton(sp => new BudgetLedger(
            sp.GetRequiredService<ConfigMonitor>(),
            sp.GetRequiredService<ICounterStore>(),
            sp.GetRequiredService<SqlLedger>(),
            sp.GetRequiredService<IAlertSink>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<BudgetLedger>>())
        {
            SharedStore = config.Storage.Redis is { Length: > 0 },
            Events = sp.GetRequiredService<Common.Events.IEventBus>(),
        });
        services.AddSingleton<IBudgetService>(sp => sp.GetRequiredService<BudgetLedger>());
        return services;
    }

    public static IEndpointRouteBuilder MapBudget(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<BudgetGrpcService>();
        return endpoints;
    }

    // redis://[user:password@]host:port[/db]; rediss:// for TLS. Never aborts on a failed first connect:
    // the gateway starts, and budget checks answer 503 until Redis is reachable.
    public static ConfigurationOptions RedisOptions(string uri)
    {
        var parsed = new Uri(uri);
        var options = new ConfigurationOptions
        {
            AbortOnConnectFail = false,
            Ssl = parsed.Scheme == "rediss",
            ConnectTimeout = 2000,
            SyncTimeout = 2000,
            AsyncTimeout = 2000,
        };
        options.EndPoints.Add(parsed.Host, parsed.IsDefaultPort || parsed.Port <= 0 ? 6379 : parsed.Port);
        if (parsed.UserInfo.Length > 0)
        {
            var parts = parsed.UserInfo.Split(':', 2);
            if (parts.Length == 2)
            {
                options.User = parts[0].Length > 0 ? Uri.UnescapeDataString(parts[0]) : null;
                options.Password = Uri.UnescapeDataString(parts[1]);
            }
            else
            {
                options.Password = Uri.UnescapeDataString(parts[0]);
            }
        }
        if (parsed.AbsolutePath.Trim('/') is { Length: > 0 } db && int.TryParse(db, out var database))
        {
            options.DefaultDatabase = database;
        }
        return options;
    }
}

// Refusals travel inside Reservation; failures (store unreachable, unknown budget) as gRPC status with
// google.rpc details, which the caller's GrpcBudgetService turns back into the same GatewayException.
public sealed class BudgetGrpcService(IBudgetService budget) : Contracts.Budget.V1.Budget.BudgetBase
{
    public override Task<Reservation> Reserve(ReserveRequest request, ServerCallContext context)
        => Call(() => budget.ReserveAsync(request, context.CancellationToken), request.RequestId);

    public override Task<SettleResponse> Settle(SettleRequest request, ServerCallContext context)
        => Call(() => budget.SettleAsync(request, context.CancellationToken), "");

    public override Task<SettleResponse> Release(ReleaseRequest request, ServerCallContext context)
        => Call(async () =>
        {
            await budget.ReleaseAsync(request, context.CancellationToken);
            return new SettleResponse();
        }, "");

    public override Task<BudgetList> ListBudgets(ListBudgetsRequest request, ServerCallContext context)
        => Call(() => budget.ListBudgetsAsync(context.CancellationToken), "");

    public override Task<BudgetStatus> AdjustBudget(AdjustBudgetRequest request, ServerCallContext context)
        => Call(() => budget.AdjustBudgetAsync(request, context.CancellationToken), "");

    private static async Task<T> Call<T>(Func<Task<T>> call, string requestId)
    {
        try
        {
            return await call();
        }
        catch (GatewayException e)
        {
            throw GrpcErrors.ToRpcException(e, requestId);
        }
    }
}
