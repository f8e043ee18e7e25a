using System.Text;
using Gateway.Router.Pipeline;
using Microsoft.ML.Tokenizers;

namespace Gateway.Budget.Tests;

public sealed class TokenCountCacheTests
{
    private static readonly string[] Pieces =
    [
        "The quarterly budget review", " is scheduled for", " Tuesday", ".", "\n", "  ", "\t", "1234567", "3.14159",
        "naïve café résumé", "Straße", "Привет, мир", "こんにちは世界", "漢字テキスト", "안녕하세요", "مرحبا بالعالم",
        "שלום", "🙂", "👩‍👩‍👧‍👦", "🇩🇪", "e\u0301", "\u200d", "\ud800", "\udfff", "<|endoftext|>", "{\"a\":[1,2,{\"b\":null}]}",
        "def f(x):\n    return x ** 2\n", "SELECT * FROM t WHERE id = @id;", "https://example.com/a?b=c&d=e", "ǅ", "ﬁ", "\u0000",
    ];

    // Texts from 1 character to a few KB mixing scripts, emoji (surrogate pairs and ZWJ sequences), combining
    // marks, lone surrogates, control characters and the tokenizers' special-token spelling.
    private static List<string> Corpus(int count, int seed)
    {
        var random = new Random(seed);
        var texts = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            var builder = new StringBuilder();
            var parts = random.Next(1, i % 10 == 0 ? 400 : 40);
            for (var p = 0; p < parts; p++)
            {
                builder.Append(Pieces[random.Next(Pieces.Length)]);
                if (random.Next(4) == 0)
                {
                    builder.Append((char)random.Next(0x20, 0x3000));
                }
            }
            texts.Add(builder.ToString());
        }
        return texts;
    }

    [Theory]
    [InlineData("gpt-4o")]
    [InlineData("gpt-4")]
    public void CountTokens_ManyTexts_MatchesTheTokenizerOnMissAndHit(string model)
    {
        var (encoding, _) = TokenCounter.For(model);
        foreach (var text in Corpus(600, seed: 11))
        {
            var expected = encoding.Tokenizer.CountTokens(text);
            Assert.Equal(expected, encoding.CountTokens(text));
            Assert.Equal(expected, encoding.CountTokens(text));
            Assert.Equal(expected, encoding.CountTokens(new string(text.AsSpan()))); // equal text, another instance
        }
    }

    [Fact]
    public void CountTokens_SameTextTwoEncodings_KeepsTheirCountsApart()
    {
        var text = string.Concat(Enumerable.Repeat("こんにちは世界 🙂 naïve café ", 20));
        var (o200k, _) = TokenCounter.For("gpt-4o");
        var (cl100k, _) = TokenCounter.For("gpt-4");
        Assert.NotEqual(o200k.Tokenizer.CountTokens(text), cl100k.Tokenizer.CountTokens(text));
        for (var round = 0; round < 2; round++)
        {
            Assert.Equal(o200k.Tokenizer.CountTokens(text), o200k.CountTokens(text));
            Assert.Equal(cl100k.Tokenizer.CountTokens(text), cl100k.CountTokens(text));
        }
    }

    [Fact]
    public void CountTokens_StreamOfUniqueTexts_StaysWithinCapacityAndKeepsHotEntries()
    {
        var cache = new TokenCountCache(64);
        var calls = 0;
        int Count(string text)
        {
            calls++;
            return text.Length;
        }
        var hot = new string('h', 200);
        cache.CountTokens(Count, 1, hot);
        for (var i = 0; i < 10_000; i++)
        {
            cache.CountTokens(Count, 1, $"{i:D8} {new string('u', 100)}");
            Assert.True(cache.Count <= cache.Capacity);
            cache.CountTokens(Count, 1, hot); // used between every two unique texts: never evicted
        }
        Assert.Equal(64, cache.Count);
        Assert.Equal(10_001, calls); // the hot text was counted once
    }

    [Fact]
    public void CountTokens_ShortTexts_AreNotCached()
    {
        var cache = new TokenCountCache(16);
        cache.CountTokens(text => text.Length, 1, new string('a', TokenCountCache.MinLength - 1));
        Assert.Equal(0, cache.Count);
        cache.CountTokens(text => text.Length, 1, new string('a', TokenCountCache.MinLength));
        Assert.Equal(1, cache.Count);
    }

    // Would UTF-8 bytes do as an upper bound without tokenizing? For these byte-level BPE encodings every
    // token covers at least one byte of the UTF-8 input, so yes, but it overstates English about fourfold and the
    // count is the hold and the TPM charge, so admission still counts (see docs/performance.md).
    [Theory]
    [InlineData("gpt-4o")]
    [InlineData("gpt-4")]
    public void CountTokens_NeverExceedsUtf8Bytes(string model)
    {
        var tokenizer = TokenCounter.For(model).Encoding.Tokenizer;
        foreach (var text in Corpus(600, seed: 23))
        {
            Assert.True(tokenizer.CountTokens(text) <= Encoding.UTF8.GetByteCount(text), text);
        }
        var english = string.Concat(Enumerable.Repeat("The quarterly budget review is scheduled for Tuesday. ", 20));
        Assert.True(Encoding.UTF8.GetByteCount(english) > 4 * tokenizer.CountTokens(english));
    }

    [Fact]
    public void CountTokens_ConcurrentCallers_AgreeWithTheTokenizer()
    {
        var tokenizer = TiktokenTokenizer.CreateForEncoding("o200k_base");
        var cache = new TokenCountCache(32);
        var texts = Corpus(200, seed: 5).Where(t => t.Length >= TokenCountCache.MinLength).ToList();
        var expected = texts.Select(t => tokenizer.CountTokens(t)).ToList();
        Parallel.For(0, 4_000, i =>
        {
            var n = i % texts.Count;
            Assert.Equal(expected[n], cache.CountTokens(t => tokenizer.CountTokens(t), 1, texts[n]));
        });
        Assert.True(cache.Count <= 32);
    }
}
