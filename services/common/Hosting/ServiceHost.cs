using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Common.Events;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Common.Hosting;

// Builds a service process: config from --config, defaults, the gRPC port (h2c) and the HTTP/1.1 port for
// REST, health and Dapr callbacks. `--grpc HOST:PORT` and `--http HOST:PORT` override the file for one process.
public static class ServiceHost
{
    public static WebApplicationBuilder Create(string[] args, string serviceName, out GatewayConfig config)
    {
        (config, var path) = ConfigArguments.LoadOrExit(args);
        // The gateway reads no appsettings.json; left on, the host would watch the working directory and every
        // folder below it for one, waking a thread for each SQLite or journal write under ./data.
        var builder = WebApplication.CreateSlimBuilder([.. args, "--hostBuilder:reloadConfigOnChange=false"]);
        builder.AddGatewayDefaults(serviceName, config, path);
        var grpc = Argument(args, "--grpc") ?? config.Server.Grpc;
        var http = Argument(args, "--http") ?? config.Server.Http;
        var tls = config.Server.Tls;
        var limits = config.Server.Limits;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            Listeners.Listen(kestrel, grpc, HttpProtocols.Http2, tls);
            Listeners.Listen(kestrel, http, HttpProtocols.Http1);
            Listeners.ApplyLimits(kestrel, limits);
        });
        builder.Services.AddEventBus(config);
        builder.Services.AddSingleton(new ServiceIdentity(serviceName));
        builder.Services.AddHostedService<ConfigChangeAnnouncer>();
        builder.Services.AddEventHandler<ConfigChangedHandler, Contracts.Events.V1.ConfigChangedEvent>();
        builder.Services.AddGrpc(options => options.Interceptors.Add<CallContextServerInterceptor>());
        builder.Services.AddGrpcHealthChecks();
        return builder;
    }

    public static IServiceCollection AddEventBus(this IServiceCollection services, GatewayConfig config)
    {
        services.AddSingleton<EventDeduplicator>();
        if (config.Services.Pubsub is { Length: > 0 })
        {
            services.AddSingleton(_ => new Dapr.Client.DaprClientBuilder().Build());
            services.AddSingleton<IEventBus>(sp => new DaprEventBus(sp.GetRequiredService<Dapr.Client.DaprClient>(), config.Services));
            return services;
        }
        services.AddSingleton<InProcessEventBus>();
        services.AddSingleton<IEventBus>(sp => sp.GetRequiredService<InProcessEventBus>());
        services.AddHostedService(sp => sp.GetRequiredService<InProcessEventBus>());
        return services;
    }

    public static string? Argument(string[] args, string name)
    {
        for (var i = 0; i < args.Length - 1; i++)
        {
            if (args[i] == name)
            {
                return args[i + 1];
            }
        }
        return null;
    }
}
