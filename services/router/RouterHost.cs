using Gateway.Common.Hosting;
using Gateway.Traces;
using Microsoft.AspNetCore.Builder;

namespace Gateway.Router;

// The router as its own process: the Inference gRPC API, calling guard/budget/prompts over gRPC where
// `services.*` names them and hosting them here otherwise. With `services.pubsub` its trace events go to the
// traces service through Dapr.
public static class RouterHost
{
    // `configure` lets a test host replace the server or the channels before the app is built.
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = ServiceHost.Create(args, "router", out var config);
        builder.Services.AddRouter(config);
        builder.Services.AddRouterDependencies(config);
        if (config.Services.Pubsub is not { Length: > 0 })
        {
            // Without pub/sub, trace events stay in this process and are stored here.
            builder.Services.AddTraces(config);
        }

        configure?.Invoke(builder);
        var app = builder.Build();
        app.MapGatewayDefaults();
        app.MapRouter();
        return app;
    }
}
