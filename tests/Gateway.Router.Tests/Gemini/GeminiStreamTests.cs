using System.Text;
using Gateway.Common.Errors;
using Gateway.Contracts.Inference.V1;
using Gateway.Router.Providers;
using Gateway.Router.Providers.Gemini;

namespace Gateway.Router.Tests.Gemini;

// streamGenerateContent?alt=sse bodies, read one byte at a time, -> neutral chunks.
public sealed class GeminiStreamTests
{
    private const long Created = 1_760_000_000;

    private static string Sse(params string[] events) => string.Concat(events.Select(e => "data: " + e + "\r\n\r\n"));

    private static async Task<List<ChatChunk>> TranslateAsync(string body)
    {
        var chunks = new List<ChatChunk>();
        var ct = TestContext.Current.CancellationToken;
        // One byte per read: every CRLF and every multi-byte character is split across reads.
        var events = SseReader.ReadAsync(new TrickleStream(Encoding.UTF8.GetBytes(body), chunkSize: 1), ct);
        await foreach (var chunk in GeminiProvider.TranslateAsync(GeminiTestData.Target(), events, Created, ct))
        {
            chunks.Add(chunk);
        }
        return chunks;
    }

    [Fact]
    public async Task TranslateAsync_TextStream_RoleFirstTextInOrderThenFinishThenUsage()
    {
        var chunks = await TranslateAsync(Sse(
            """{"candidates":[{"content":{"parts":[{"text":"Grü"}],"role":"model"}}],"usageMetadata":{"promptTokenCount":12,"totalTokenCount":12},"modelVersion":"gemini-2.5-flash","responseId":"r-1"}""",
            """{"candidates":[{"content":{"parts":[{"text":"ße aus 世"}],"role":"model"}}],"usageMetadata":{"promptTokenCount":12,"totalTokenCount":12},"modelVersion":"gemini-2.5-flash","responseId":"r-1"}""",
            """{"candidates":[{"content":{"parts":[{"text":"界 😀"}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":6,"totalTokenCount":18,"cachedContentTokenCount":4},"modelVersion":"gemini-2.5-flash","responseId":"r-1"}"""));

        Assert.Equal(5, chunks.Count);
        Assert.Equal(Role.Assistant, chunks[0].Choices[0].Delta.Role);
        Assert.All(chunks.Skip(1), c => Assert.All(c.Choices, choice => Assert.Equal(Role.Unspecified, choice.Delta.Role)));
        Assert.Equal("Grüße aus 世界 😀", string.Concat(chunks.SelectMany(c => c.Choices).Select(c => c.Delta.Content)));
        Assert.All(chunks, c =>
        {
            Assert.Equal("r-1", c.Id);
            Assert.Equal("gemini-2.5-flash", c.Model);
            Assert.Equal(Created, c.Created);
        });
        var finish = Assert.Single(chunks[3].Choices);
        Assert.Equal(FinishReason.Stop, finish.FinishReason);
        Assert.False(finish.Delta.HasContent);
        Assert.Empty(chunks[4].Choices);
        Assert.Equal(12, chunks[4].Usage.InputTokens);
        Assert.Equal(6, chunks[4].Usage.OutputTokens);
        Assert.Equal(4, chunks[4].Usage.CachedInputTokens);
        Assert.All(chunks.Take(4), c => Assert.Null(c.Usage));
    }

    [Fact]
    public async Task TranslateAsync_FunctionCalls_OneDeltaEachWithWholeArgumentsAndToolCallsFinish()
    {
        var chunks = await TranslateAsync(Sse(
            """{"candidates":[{"content":{"parts":[{"text":"Checking."}],"role":"model"}}],"modelVersion":"gemini-2.5-pro"}""",
            """{"candidates":[{"content":{"parts":[{"functionCall":{"name":"lookup","args":{"query":"näive café","limit":3}},"thoughtSignature":"sig-9"},{"functionCall":{"id":"fc-2","name":"get_time","args":{}}}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":20,"candidatesTokenCount":15,"totalTokenCount":35},"modelVersion":"gemini-2.5-pro"}"""));

        var calls = chunks.SelectMany(c => c.Choices).SelectMany(c => c.Delta.ToolCalls).ToList();
        Assert.Collection(calls,
            call =>
            {
                Assert.Equal(0, call.Index);
                Assert.Equal("call_0", call.Id);
                Assert.Equal("lookup", call.Name);
                Assert.Equal("""{"query":"näive café","limit":3}""", call.Arguments);
            },
            call =>
            {
                Assert.Equal(1, call.Index);
                Assert.Equal("fc-2", call.Id);
                Assert.Equal("get_time", call.Name);
                Assert.Equal("{}", call.Arguments);
            });
        Assert.Equal("sig-9", chunks.SelectMany(c => c.Choices).Single(c => c.Delta.HasReasoningSignature).Delta.ReasoningSignature);
        Assert.Equal(FinishReason.ToolCalls, chunks.SelectMany(c => c.Choices).Single(c => c.FinishReason != FinishReason.Unspecified).FinishReason);
        Assert.NotNull(chunks[^1].Usage);
    }

    [Fact]
    public async Task TranslateAsync_ThoughtParts_StreamAsReasoningNeverContent()
    {
        var chunks = await TranslateAsync(Sse(
            """{"candidates":[{"content":{"parts":[{"text":"Thinking about ✓ marks","thought":true}],"role":"model"}}]}""",
            """{"candidates":[{"content":{"parts":[{"text":"Done ✓"}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"thoughtsTokenCount":7}}"""));

        var deltas = chunks.SelectMany(c => c.Choices).Select(c => c.Delta).ToList();
        Assert.Equal("Thinking about ✓ marks", string.Concat(deltas.Where(d => d.HasReasoning).Select(d => d.Reasoning)));
        Assert.Equal("Done ✓", string.Concat(deltas.Where(d => d.HasContent).Select(d => d.Content)));
        Assert.DoesNotContain(deltas, d => d.HasContent && d.Content.Contains("Thinking", StringComparison.Ordinal));
        Assert.Equal(Role.Assistant, deltas[0].Role);
        Assert.Equal(9, chunks[^1].Usage.OutputTokens);
        Assert.Equal(7, chunks[^1].Usage.ReasoningTokens);
    }

    [Fact]
    public async Task TranslateAsync_EndsWithoutFinishReason_ThrowsUpstreamError()
    {
        var error = await Assert.ThrowsAsync<GatewayException>(() => TranslateAsync(Sse(
            """{"candidates":[{"content":{"parts":[{"text":"Half an ans"}],"role":"model"}}]}""")));

        Assert.Equal(ErrorKind.UpstreamError, error.Kind);
        Assert.Contains("before it finished", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TranslateAsync_EmptyStream_ThrowsUpstreamError()
    {
        var error = await Assert.ThrowsAsync<GatewayException>(() => TranslateAsync(""));

        Assert.Equal(ErrorKind.UpstreamError, error.Kind);
    }

    [Fact]
    public async Task TranslateAsync_BlockedPrompt_ThrowsContentPolicy()
    {
        var error = await Assert.ThrowsAsync<GatewayException>(() => TranslateAsync(Sse(
            """{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":9,"totalTokenCount":9},"modelVersion":"gemini-2.5-flash"}""")));

        Assert.Equal(ErrorKind.ContentPolicy, error.Kind);
    }

    [Fact]
    public async Task TranslateAsync_ErrorEventMidStream_IsMappedLikeAnHttpError()
    {
        var error = await Assert.ThrowsAsync<GatewayException>(() => TranslateAsync(Sse(
            """{"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"}}]}""",
            """{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}""")));

        Assert.Equal(ErrorKind.UpstreamError, error.Kind);
        Assert.Equal(503, error.UpstreamStatus);
    }

    [Fact]
    public async Task TranslateAsync_EmptyFinalText_FinishChunkStillCarriesReason()
    {
        var chunks = await TranslateAsync(Sse(
            """{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"}}]}""",
            """{"candidates":[{"content":{"parts":[{"text":""}],"role":"model"},"finishReason":"MAX_TOKENS"}],"usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":1}}"""));

        Assert.Equal(3, chunks.Count);
        Assert.Equal("Hi", chunks[0].Choices[0].Delta.Content);
        Assert.Equal(FinishReason.Length, chunks[1].Choices[0].FinishReason);
        Assert.NotNull(chunks[2].Usage);
    }
}
