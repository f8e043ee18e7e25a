using System.Collections.Frozen;
using System.Text.Json;
using System.Text.RegularExpressions;
using Gateway.Common.Configuration;

namespace Gateway.Common.Pricing;

// Prices per model: `models.<name>.price` in the configuration wins; otherwise the shipped list prices
// (prices.json, embedded) by the public name, then by each target's upstream model name. A dated snapshot
// name (gpt-4o-2024-08-06, claude-sonnet-4-20250514) falls back to its base name.
public static partial class PriceTable
{
    private static readonly FrozenDictionary<string, PriceConfig> Shipped = Load();

    public static PriceConfig? For(string publicModel, ModelConfig? model)
    {
        if (model?.Price is { } configured)
        {
            return configured;
        }
        if (Lookup(publicModel) is { } byName)
        {
            return byName;
        }
        foreach (var target in model?.Targets ?? [])
        {
            if (Lookup(target.Model) is { } byUpstream)
            {
                return byUpstream;
            }
        }
        return null;
    }

    public static PriceConfig? Lookup(string name)
    {
        if (Shipped.TryGetValue(name, out var price))
        {
            return price;
        }
        var slash = name.LastIndexOf('/');
        var bare = slash >= 0 ? name[(slash + 1)..] : name;
        var undated = DateSuffix().Replace(bare, "");
        return Shipped.GetValueOrDefault(undated) ?? (bare != name ? Shipped.GetValueOrDefault(bare) : null);
    }

    private static FrozenDictionary<string, PriceConfig> Load()
    {
        using var stream = typeof(PriceTable).Assembly.GetManifestResourceStream("Gateway.Common.Pricing.prices.json")
            ?? throw new InvalidOperationException("prices.json is not embedded in Gateway.Common");
        using var document = JsonDocument.Parse(stream);
        var prices = new Dictionary<string, PriceConfig>(StringComparer.OrdinalIgnoreCase);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            if (property.Value.ValueKind != JsonValueKind.Object)
            {
                continue;
            }
            var value = property.Value;
            prices[property.Name] = new PriceConfig
            {
                Input = value.GetProperty("input").GetDecimal(),
                Output = value.GetProperty("output").GetDecimal(),
                CachedInput = value.TryGetProperty("cached_input", out var cached) ? cached.GetDecimal() : null,
            };
        }
        return prices.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    }

    [GeneratedRegex(@"(-\d{4}-\d{2}-\d{2}|-\d{8}|-latest)$")]
    private static partial Regex DateSuffix();
}
