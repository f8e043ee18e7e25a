using Gateway.Contracts.Inference.V1;
using Microsoft.ML.Tokenizers;

namespace Gateway.Router.Pipeline;

// Counts a request's input tokens with the model family's real tokenizer (Microsoft.ML.Tokenizers):
// o200k_base for GPT-4o, GPT-4.1, GPT-5 and the o-series; cl100k_base for GPT-4 and GPT-3.5. Other
// families (Claude, Gemini, Llama, Mistral) have no public .NET tokenizer: they are counted with cl100k_base
// plus a 25% margin, which bounds their tokenizers on English text and code. The count feeds admission
// (a maximum), never billing: billing uses the provider's reported usage.
internal static class TokenCounter
{
    // Per-message framing (role, separators) as OpenAI documents it, plus the reply priming.
    private const int PerMessage = 4;
    private const int Priming = 3;

    private static readonly Lazy<Encoding> O200k = new(() => new Encoding(TiktokenTokenizer.CreateForEncoding("o200k_base"), 1));
    private static readonly Lazy<Encoding> Cl100k = new(() => new Encoding(TiktokenTokenizer.CreateForEncoding("cl100k_base"), 2));

    // Counts per distinct text (see TokenCountCache); about 120 bytes an entry, so about a megabyte in all.
    internal static readonly TokenCountCache Cache = new(8192);

    // A tokenizer and the id that keeps its counts apart from other encodings' in the cache.
    internal sealed class Encoding(Tokenizer tokenizer, int id)
    {
        private readonly Func<string, int> _count = text => tokenizer.CountTokens(text);

        public Tokenizer Tokenizer { get; } = tokenizer;

        public int CountTokens(string text) => text.Length == 0 ? 0 : Cache.CountTokens(_count, id, text);
    }

    public static (Encoding Encoding, double Margin) For(string model)
    {
        var name = model.ToLowerInvariant();
        var slash = name.LastIndexOf('/');
        if (slash >= 0)
        {
            name = name[(slash + 1)..];
        }
        if (name.StartsWith("gpt-4o", StringComparison.Ordinal) || name.StartsWith("gpt-4.1", StringComparison.Ordinal)
            || name.StartsWith("gpt-4.5", StringComparison.Ordinal) || name.StartsWith("gpt-5", StringComparison.Ordinal)
            || name.StartsWith("chatgpt-4o", StringComparison.Ordinal) || name.StartsWith("gpt-oss", StringComparison.Ordinal)
            || (name.Length > 1 && name[0] == 'o' && char.IsAsciiDigit(name[1])))
        {
            return (O200k.Value, 1.0);
        }
        if (name.StartsWith("gpt-4", StringComparison.Ordinal) || name.StartsWith("gpt-3.5", StringComparison.Ordinal)
            || name.StartsWith("text-embedding", StringComparison.Ordinal))
        {
            return (Cl100k.Value, 1.0);
        }
        return (Cl100k.Value, 1.25);
    }

    public static long CountTexts(IEnumerable<string> texts, string model)
    {
        var (encoding, margin) = For(model);
        long tokens = 0;
        foreach (var text in texts)
        {
            tokens += encoding.CountTokens(text);
        }
        return (long)Math.Ceiling(tokens * margin);
    }

    public static long CountInput(ChatRequest request, string model)
    {
        var (encoding, margin) = For(model);
        long tokens = Priming;
        foreach (var message in request.Messages)
        {
            tokens += PerMessage;
            foreach (var part in message.Content)
            {
                if (part.PartCase == ContentPart.PartOneofCase.Image)
                {
                    // A conservative flat allowance per image (a high-detail 1024x1024 image is 765 tokens).
                    tokens += 1105;
                }
                else if (part.Text.Length > 0)
                {
                    tokens += encoding.CountTokens(part.Text);
                }
            }
            foreach (var call in message.ToolCalls)
            {
                tokens += encoding.CountTokens(call.Name) + encoding.CountTokens(call.Arguments) + PerMessage;
            }
        }
        foreach (var tool in request.Tools)
        {
            tokens += encoding.CountTokens(tool.Name) + encoding.CountTokens(tool.Description) + encoding.CountTokens(tool.ParametersJson) + 8;
        }
        return (long)Math.Ceiling(tokens * margin);
    }
}
