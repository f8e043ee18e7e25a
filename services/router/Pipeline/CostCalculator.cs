using Gateway.Common.Configuration;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;

namespace Gateway.Router.Pipeline;

internal static class CostCalculator
{
    private const decimal PerMillion = 1_000_000m;

    // Default output allowance when a request does not say max_tokens.
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

    // An upper bound for admission: a generous character-based token estimate plus the output allowance.
    public static double MaxCost(PriceConfig? price, ChatRequest request)
    {
        if (price is null)
        {
            return 0;
        }
        long characters = 0;
        foreach (var message in request.Messages)
        {
            foreach (var part in message.Content)
            {
                characters += part.Text.Length;
            }
            foreach (var call in message.ToolCalls)
            {
                characters += call.Arguments.Length + call.Name.Length;
            }
        }
        foreach (var tool in request.Tools)
        {
            characters += tool.ParametersJson.Length + tool.Description.Length;
        }
        var inputTokens = characters / 2 + 16 * request.Messages.Count;
        var outputTokens = request.HasMaxTokens ? request.MaxTokens : DefaultMaxOutputTokens;
        return (double)((inputTokens * price.Input + outputTokens * price.Output) / PerMillion);
    }
}
