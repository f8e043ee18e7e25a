using Grpc.Core;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Common.Clients;

public static class ServiceClientRegistration
{
    // A gRPC client for a service in another process. Retries only on Unavailable, through gRPC's own
    // retry policy (the HTTP resilience handler cannot see gRPC status in trailers).
    public static IServiceCollection AddServiceClient<TClient>(this IServiceCollection services, string address) where TClient : class
    {
        services.AddGrpcClient<TClient>(options => options.Address = new Uri(address))
            .ConfigureChannel(channel => channel.ServiceConfig = new ServiceConfig
            {
                MethodConfigs =
                {
                    new MethodConfig
                    {
                        Names = { MethodName.Default },
                        RetryPolicy = new RetryPolicy
                        {
                            MaxAttempts = 3,
                            InitialBackoff = TimeSpan.FromMilliseconds(50),
                            MaxBackoff = TimeSpan.FromMilliseconds(500),
                            BackoffMultiplier = 2,
                            RetryableStatusCodes = { StatusCode.Unavailable },
                        },
                    },
                },
            });
        return services;
    }
}
