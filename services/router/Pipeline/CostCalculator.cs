using Gateway.Common.Configuration;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;

namespace Gateway.Router.Pipeline;

internal static class CostCalculator
{
    private const decimal PerMillion = 1_000_000m;

    // Default output allowance when a request does not say max_tokens (budget_settings.default_max_tokens).
    public const int DefaultMaxOutputTokens = 4096;

    public static double Cost(PriceConfig? price, Usage? usage)
    {
        if (price is null || usage is null)
        {
            return 0;
        }
        var cached = Math.Min(usage.CachedInputTokens, usage.InputTokens);
        var cost = (usage.InputTokens - cached) * price.Input / PerMillion
                   + cached * (price.CachedInput ?? price.Input) / PerMillion
                   + usage.OutputTokens * price.Output / PerMillion;
        return (double)cost;
    }

    // The most a request can cost, for admission: input tokens counted with the model family's tokenizer
    // plus max_tokens (or the configured default cap) of output, at list price. Tokens = input + output.
    public static (double CostUsd, long Tokens) MaxCost(PriceConfig? price, ChatRequest request, string tokenizerModel, int defaultMaxTokens = DefaultMaxOutputTokens)
    {
        var inputTokens = TokenCounter.CountInput(request, tokenizerModel);
        long outputTokens = request.HasMaxTokens && request.MaxTokens > 0 ? request.MaxTokens : defaultMaxTokens;
        if (price is null)
        {
            return (0, inputTokens + outputTokens);
        }
        // Rounded up to the next nano-dollar so the hold is never below the true maximum.
        var cost = (inputTokens * price.Input + outputTokens * price.Output) / PerMillion;
        return ((double)(Math.Ceiling(cost * 1_000_000_000m) / 1_000_000_000m), inputTokens + outputTokens);
    }

    // Embeddings have input only: every text counted with the model family's tokenizer, at the input price.
    public static (double CostUsd, long Tokens) MaxCost(PriceConfig? price, EmbedRequest request, string tokenizerModel)
    {
        var inputTokens = TokenCounter.CountTexts(request.Input, tokenizerModel);
        if (price is null)
        {
            return (0, inputTokens);
        }
        var cost = inputTokens * price.Input / PerMillion;
        return ((double)(Math.Ceiling(cost * 1_000_000_000m) / 1_000_000_000m), inputTokens);
    }
}
