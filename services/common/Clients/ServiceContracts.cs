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

public interface IPromptService
{
    Task<ResolvedPrompt> ResolveAsync(ResolveRequest request, CancellationToken cancellationToken);
}
