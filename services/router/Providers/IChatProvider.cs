using Gateway.Common.Configuration;
using Gateway.Contracts.Inference.V1;

namespace Gateway.Router.Providers;

// One deployment to call: a configured provider and the upstream model (or Azure deployment) name.
public sealed record ProviderTarget(string ProviderName, ProviderConfig Config, string UpstreamModel, string PublicModel);

// A provider adapter: neutral request (the Inference contract) -> the provider's wire format -> neutral
// response. Adapters are stateless singletons; failures are thrown as GatewayException with a typed kind.
public interface IChatProvider
{
    // The `kind` in configuration this adapter serves (openai, azure-openai, anthropic, gemini).
    string Kind { get; }

    Task<ChatResponse> ChatAsync(ProviderTarget target, ChatRequest request, CancellationToken cancellationToken);

    // Yields neutral chunks in order. The stream ends with a chunk carrying a finish reason and, when the
    // provider reports it, a chunk carrying usage (always requested upstream so budgets can settle).
    IAsyncEnumerable<ChatChunk> StreamAsync(ProviderTarget target, ChatRequest request, CancellationToken cancellationToken);
}

// Optional capability: not every provider serves embeddings.
public interface IEmbeddingProvider
{
    Task<EmbedResponse> EmbedAsync(ProviderTarget target, EmbedRequest request, CancellationToken cancellationToken);
}
