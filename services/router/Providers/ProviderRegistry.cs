using Gateway.Common.Errors;

namespace Gateway.Router.Providers;

// The one place a provider kind is matched to its adapter.
public sealed class ProviderRegistry(IEnumerable<IChatProvider> providers)
{
    private readonly Dictionary<string, IChatProvider> _byKind = providers.ToDictionary(p => p.Kind, StringComparer.Ordinal);

    public IChatProvider Chat(ProviderTarget target)
        => _byKind.TryGetValue(target.Config.Kind, out var provider)
            ? provider
            : throw new GatewayException(ErrorKind.Internal, $"No adapter for provider kind '{target.Config.Kind}'.");

    public IEmbeddingProvider? Embeddings(ProviderTarget target)
        => Chat(target) as IEmbeddingProvider;
}
