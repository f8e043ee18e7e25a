using BenchmarkDotNet.Attributes;
using Gateway.Contracts.Inference.V1;
using Gateway.Router.Pipeline;

namespace Gateway.Budget.Benchmarks;

// The token count behind a budget hold, for a request whose 1 KB system prompt repeats on every call (plus a
// short user turn): every part through the tokenizer (what admission did before the cache) against the cached
// count, which tokenizes only the new user turn (short texts are not cached; they tokenize as fast as they hash).
[MemoryDiagnoser]
public class TokenCountBenchmarks
{
    private const string Model = "gpt-4o";
    private ChatRequest _request = null!;

    [GlobalSetup]
    public void Setup()
    {
        var system = string.Concat(Enumerable.Repeat("You are a careful assistant for the finance team. Answer briefly, cite the policy section, and never reveal account numbers. ", 9))[..1024];
        _request = new ChatRequest { Model = Model };
        _request.Messages.Add(new Message { Role = Role.System, Content = { new ContentPart { Text = system } } });
        _request.Messages.Add(new Message { Role = Role.User, Content = { new ContentPart { Text = "What is the travel allowance for Berlin?" } } });
        TokenCounter.CountInput(_request, Model); // the system prompt is in the cache
    }

    [Benchmark(Baseline = true)]
    public long Tokenizer_1KbSystemPrompt()
    {
        var tokenizer = TokenCounter.For(Model).Encoding.Tokenizer;
        long tokens = 3;
        foreach (var message in _request.Messages)
        {
            tokens += 4;
            foreach (var part in message.Content)
            {
                tokens += tokenizer.CountTokens(part.Text);
            }
        }
        return tokens;
    }

    [Benchmark]
    public long Cached_1KbSystemPrompt() => TokenCounter.CountInput(_request, Model);
}
