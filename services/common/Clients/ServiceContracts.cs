using Gateway.Contracts.Budget.V1;
using Gateway.Contracts.Guard.V1;
using Gateway.Contracts.Inference.V1;
using Gateway.Contracts.Prompts.V1;

namespace Gateway.Common.Clients;

// The calls services make to each other. Embedded, each is implemented by the service itself in this
// process; in the mesh, by a thin adapter over the generated gRPC client (GrpcServiceClients.cs).
// Failures surface as GatewayException either way.

public interface IInferenceService
{
    Task<ChatResponse> ChatAsync(ChatRequest request, string? apiKey, CancellationToken cancellationToken);

    IAsyncEnumerable<ChatChunk> ChatStreamAsync(ChatRequest request, string? apiKey, CancellationToken cancellationToken);

    Task<EmbedResponse> EmbedAsync(EmbedRequest request, string? apiKey, CancellationToken cancellationToken);

    Task<ListModelsResponse> ListModelsAsync(string? apiKey, CancellationToken cancellationToken);
}

public interface IGuardService
{
    Task<Verdict> CheckInputAsync(CheckInputRequest request, CancellationToken cancellationToken);

    Task<Verdict> CheckOutputAsync(CheckOutputRequest request, CancellationToken cancellationToken);

    Task<ScanResponse> ScanAsync(ScanRequest request, CancellationToken cancellationToken);
}

public interface IBudgetService
{
    Task<Reservation> ReserveAsync(ReserveRequest request, CancellationToken cancellationToken);

    Task<SettleResponse> SettleAsync(SettleRequest request, CancellationToken cancellationToken);

    Task ReleaseAsync(ReleaseRequest request, CancellationToken cancellationToken);

    Task<BudgetList> ListBudgetsAsync(CancellationToken cancellationToken);

    // Throws GatewayException NotFound for an unknown budget name.
    Task<BudgetStatus> AdjustBudgetAsync(AdjustBudgetRequest request, CancellationToken cancellationToken);
}

// Versioned prompts: resolution on the request path, and the admin operations (versions, labels,
// experiments). Bad input and unknown names surface as GatewayException (400 / 404 / 403).
public interface IPromptService
{
    Task<ResolvedPrompt> ResolveAsync(ResolveRequest request, CancellationToken cancellationToken);

    Task<CreateVersionResponse> CreateVersionAsync(CreateVersionRequest request, CancellationToken cancellationToken);

    Task<PromptList> ListPromptsAsync(CancellationToken cancellationToken);

    Task<VersionList> ListVersionsAsync(ListVersionsRequest request, CancellationToken cancellationToken);

    Task<PromptVersion> GetVersionAsync(GetVersionRequest request, CancellationToken cancellationToken);

    Task<DiffResponse> DiffAsync(DiffRequest request, CancellationToken cancellationToken);

    Task<LabelChange> SetLabelAsync(SetLabelRequest request, CancellationToken cancellationToken);

    Task<LabelHistoryResponse> LabelHistoryAsync(LabelHistoryRequest request, CancellationToken cancellationToken);

    Task<Experiment> StartExperimentAsync(StartExperimentRequest request, CancellationToken cancellationToken);

    Task<ExperimentList> ListExperimentsAsync(ListExperimentsRequest request, CancellationToken cancellationToken);

    Task<Experiment> StopExperimentAsync(StopExperimentRequest request, CancellationToken cancellationToken);
}
