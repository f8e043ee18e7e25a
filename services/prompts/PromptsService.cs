using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Common.Events;
using Gateway.Contracts.Prompts.V1;
using Gateway.Prompts.Store;
using Grpc.Core;

namespace Gateway.Prompts;

public sealed class PromptsMarker;

public static class PromptsService
{
    public static IServiceCollection AddPrompts(this IServiceCollection services, GatewayConfig config)
    {
        services.AddSingleton(sp => PromptStore.Open(config.Storage.State, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<PromptCatalog>();
        services.AddSingleton<IPromptService>(sp => sp.GetRequiredService<PromptCatalog>());
        services.AddEventHandler<PromptChangedHandler, PromptChanged>();
        services.AddHostedService<PromptCacheRefresher>();
        if (config.Prompts.SyncDir is { Length: > 0 } directory)
        {
            services.AddHostedService(sp => new PromptSyncAtStart(sp.GetRequiredService<PromptCatalog>(), directory, sp.GetRequiredService<ILogger<PromptSyncAtStart>>()));
        }
        return services;
    }

    public static IEndpointRouteBuilder MapPrompts(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<PromptsGrpcService>();
        return endpoints;
    }
}

// prompts.sync_dir: the folder is synced before the gateway takes traffic (a bad file stops the start).
public sealed class PromptSyncAtStart(PromptCatalog catalog, string directory, ILogger<PromptSyncAtStart> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var result = await PromptSync.SyncAsync(catalog, directory, "sync:" + Path.GetFileName(Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar)), cancellationToken);
        PromptsLog.Synced(logger, directory, result.Created, result.LabelsMoved, result.Unchanged);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

// The gRPC Prompts service: the same operations as /admin/v1/prompts, for services in the mesh. Failures
// travel as gRPC status with google.rpc details (GrpcErrors), which GrpcPromptService turns back into the
// same GatewayException.
public sealed class PromptsGrpcService(IPromptService prompts) : Contracts.Prompts.V1.Prompts.PromptsBase
{
    public override Task<ResolvedPrompt> Resolve(ResolveRequest request, ServerCallContext context) => Call(() => prompts.ResolveAsync(request, context.CancellationToken));

    public override Task<CreateVersionResponse> CreateVersion(CreateVersionRequest request, ServerCallContext context) => Call(() => prompts.CreateVersionAsync(request, context.CancellationToken));

    public override Task<PromptList> ListPrompts(ListPromptsRequest request, ServerCallContext context) => Call(() => prompts.ListPromptsAsync(context.CancellationToken));

    public override Task<VersionList> ListVersions(ListVersionsRequest request, ServerCallContext context) => Call(() => prompts.ListVersionsAsync(request, context.CancellationToken));

    public override Task<PromptVersion> GetVersion(GetVersionRequest request, ServerCallContext context) => Call(() => prompts.GetVersionAsync(request, context.CancellationToken));

    public override Task<DiffResponse> DiffVersions(DiffRequest request, ServerCallContext context) => Call(() => prompts.DiffAsync(request, context.CancellationToken));

    public override Task<LabelChange> SetLabel(SetLabelRequest request, ServerCallContext context) => Call(() => prompts.SetLabelAsync(request, context.CancellationToken));

    public override Task<LabelHistoryResponse> LabelHistory(LabelHistoryRequest request, ServerCallContext context) => Call(() => prompts.LabelHistoryAsync(request, context.CancellationToken));

    public override Task<Experiment> StartExperiment(StartExperimentRequest request, ServerCallContext context) => Call(() => prompts.StartExperimentAsync(request, context.CancellationToken));

    public override Task<ExperimentList> ListExperiments(ListExperimentsRequest request, ServerCallContext context) => Call(() => prompts.ListExperimentsAsync(request, context.CancellationToken));

    public override Task<Experiment> StopExperiment(StopExperimentRequest request, ServerCallContext context) => Call(() => prompts.StopExperimentAsync(request, context.CancellationToken));

    private static async Task<T> Call<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (GatewayException e)
        {
            throw GrpcErrors.ToRpcException(e, "");
        }
    }
}
