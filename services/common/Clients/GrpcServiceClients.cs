using System.Runtime.CompilerServices;
using Gateway.Common.Errors;
using Gateway.Contracts.Budget.V1;
using Gateway.Contracts.Guard.V1;
using Gateway.Contracts.Inference.V1;
using Gateway.Contracts.Prompts.V1;
using Grpc.Core;

namespace Gateway.Common.Clients;

// Adapters from the service interfaces onto the generated gRPC clients, for services in another process.
internal static class Rpc
{
    public static async Task<T> CallAsync<T>(Func<AsyncUnaryCall<T>> call)
    {
        try
        {
            return await call();
        }
        catch (RpcException e)
        {
            throw GrpcErrors.FromRpcException(e);
        }
    }

    public static Metadata? Authorization(string? apiKey)
        => apiKey is null ? null : new Metadata { { "authorization", "Bearer " + apiKey } };
}

public sealed class GrpcInferenceService(Inference.InferenceClient client) : IInferenceService
{
    public Task<ChatResponse> ChatAsync(ChatRequest request, string? apiKey, CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.ChatAsync(request, Rpc.Authorization(apiKey), cancellationToken: cancellationToken));

    public async IAsyncEnumerable<ChatChunk> ChatStreamAsync(ChatRequest request, string? apiKey, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var call = client.ChatStream(request, Rpc.Authorization(apiKey), cancellationToken: cancellationToken);
        while (true)
        {
            bool more;
            try
            {
                more = await call.ResponseStream.MoveNext(cancellationToken);
            }
            catch (RpcException e)
            {
                throw GrpcErrors.FromRpcException(e);
            }
            if (!more)
            {
                yield break;
            }
            yield return call.ResponseStream.Current;
        }
    }

    public Task<EmbedResponse> EmbedAsync(EmbedRequest request, string? apiKey, CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.EmbedAsync(request, Rpc.Authorization(apiKey), cancellationToken: cancellationToken));

    public Task<ListModelsResponse> ListModelsAsync(string? apiKey, CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.ListModelsAsync(new ListModelsRequest(), Rpc.Authorization(apiKey), cancellationToken: cancellationToken));
}

public sealed class GrpcGuardService(Guard.GuardClient client) : IGuardService
{
    public Task<Verdict> CheckInputAsync(CheckInputRequest request, CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.CheckInputAsync(request, cancellationToken: cancellationToken));

    public Task<Verdict> CheckOutputAsync(CheckOutputRequest request, CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.CheckOutputAsync(request, cancellationToken: cancellationToken));

    public Task<ScanResponse> ScanAsync(ScanRequest request, CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.ScanAsync(request, cancellationToken: cancellationToken));
}

public sealed class GrpcBudgetService(Budget.BudgetClient client) : IBudgetService
{
    public Task<Reservation> ReserveAsync(ReserveRequest request, CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.ReserveAsync(request, cancellationToken: cancellationToken));

    public Task<SettleResponse> SettleAsync(SettleRequest request, CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.SettleAsync(request, cancellationToken: cancellationToken));

    public Task ReleaseAsync(ReleaseRequest request, CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.ReleaseAsync(request, cancellationToken: cancellationToken));

    public Task<BudgetList> ListBudgetsAsync(CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.ListBudgetsAsync(new ListBudgetsRequest(), cancellationToken: cancellationToken));

    public Task<BudgetStatus> AdjustBudgetAsync(AdjustBudgetRequest request, CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.AdjustBudgetAsync(request, cancellationToken: cancellationToken));
}

public sealed class GrpcPromptService(Prompts.PromptsClient client) : IPromptService
{
    public Task<ResolvedPrompt> ResolveAsync(ResolveRequest request, CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.ResolveAsync(request, cancellationToken: cancellationToken));

    public Task<CreateVersionResponse> CreateVersionAsync(CreateVersionRequest request, CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.CreateVersionAsync(request, cancellationToken: cancellationToken));

    public Task<PromptList> ListPromptsAsync(CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.ListPromptsAsync(new ListPromptsRequest(), cancellationToken: cancellationToken));

    public Task<VersionList> ListVersionsAsync(ListVersionsRequest request, CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.ListVersionsAsync(request, cancellationToken: cancellationToken));

    public Task<PromptVersion> GetVersionAsync(GetVersionRequest request, CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.GetVersionAsync(request, cancellationToken: cancellationToken));

    public Task<DiffResponse> DiffAsync(DiffRequest request, CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.DiffVersionsAsync(request, cancellationToken: cancellationToken));

    public Task<LabelChange> SetLabelAsync(SetLabelRequest request, CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.SetLabelAsync(request, cancellationToken: cancellationToken));

    public Task<LabelHistoryResponse> LabelHistoryAsync(LabelHistoryRequest request, CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.LabelHistoryAsync(request, cancellationToken: cancellationToken));

    public Task<Experiment> StartExperimentAsync(StartExperimentRequest request, CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.StartExperimentAsync(request, cancellationToken: cancellationToken));

    public Task<ExperimentList> ListExperimentsAsync(ListExperimentsRequest request, CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.ListExperimentsAsync(request, cancellationToken: cancellationToken));

    public Task<Experiment> StopExperimentAsync(StopExperimentRequest request, CancellationToken cancellationToken)
        => Rpc.CallAsync(() => client.StopExperimentAsync(request, cancellationToken: cancellationToken));
}
