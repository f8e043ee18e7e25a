using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Common.Events;
using Gateway.Common.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Serilog;
using Serilog.Events;

namespace Gateway.Common.Hosting;

// What every service process shares: configuration, logging, telemetry, health. One place, every service.
public static class GatewayDefaults
{
    public const string ActivitySourceName = "Gateway";
    public const string MeterName = "Gateway";

    public static WebApplicationBuilder AddGatewayDefaults(this WebApplicationBuilder builder, string serviceName, GatewayConfig config, string? configPath)
    {
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => new ConfigMonitor(config, configPath, sp.GetRequiredService<ILogger<ConfigMonitor>>()));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ConfigMonitor>());
        builder.Services.AddCredentialAuthentication();

        builder.Logging.ClearProviders();
        builder.Services.AddSerilog((_, logger) => logger
            .MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft.AspNetCore", LogEventLevel.Warning)
            .MinimumLevel.Override("System.Net.Http.HttpClient", LogEventLevel.Warning)
            .MinimumLevel.Override("Grpc", LogEventLevel.Warning)
            // The MCP SDK logs every request and every upstream stderr line; the gateway audits tool calls itself.
            .MinimumLevel.Override("ModelContextProtocol", LogEventLevel.Warning)
            // A deliberately cut-off stream is already logged by the pipeline; Kestrel would add an error.
            .Filter.ByExcluding(e => e.Exception is ResponseAbortedException)
            .Enrich.FromLogContext()
            .Enrich.WithProperty("service", serviceName)
            .WriteTo.Console(
                outputTemplate: "[{Timestamp:HH:mm:ss} {Level:u3}] {request_id} {Message:lj}{NewLine}{Exception}",
                formatProvider: System.Globalization.CultureInfo.InvariantCulture), writeToProviders: true);

        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName))
            .WithMetrics(metrics => metrics
                .AddMeter(MeterName)
                // The runtime's own meter: GC heap and committed memory, thread pool, lock contention, exceptions.
                .AddMeter("System.Runtime")
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddPrometheusExporter());
        // Spans only when they go somewhere (the standard OTEL_EXPORTER_OTLP_ENDPOINT variable): recording
        // spans that nobody exports costs every request several allocations per layer for nothing.
        if (!string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            otel.WithTracing(tracing => tracing
                    .AddSource(ActivitySourceName)
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation())
                .UseOtlpExporter();
        }

        // One check that says the process is up: grpc.health.v1 answers Unknown when there is none to report.
        builder.Services.AddHealthChecks().AddCheck("process", () => HealthCheckResult.Healthy());
        return builder;
    }

    public static IEndpointRouteBuilder MapGatewayDefaults(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/readyz");
        app.MapPrometheusScrapingEndpoint("/metrics");
        // grpc.health.v1 on the gRPC port, fed by the same health checks as /readyz.
        app.MapGrpcHealthChecksService();
        app.MapEventSubscriptions(app.ServiceProvider.GetRequiredService<ConfigMonitor>().Current.Services);
        return app;
    }
}
