using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Contracts.Inference.V1;
using Gateway.Router.Providers;
using Gateway.Router.Providers.Bedrock;
using Gateway.Testing.Fakes;

namespace Gateway.Router.Tests.Bedrock;

// ConverseStream event sequences in the shape Bedrock records them -> neutral chunks.
public sealed class BedrockStreamTests
{
    private static readonly ProviderTarget Target = new("bedrock", new ProviderConfig { Kind = "bedrock", Region = "us-east-1", TimeoutSeconds = 30 }, "anthropic.claude-3-5-haiku-20241022-v1:0", "claude-haiku");

    private static async Task<List<ChatChunk>> TranslateAsync(params byte[][] frames)
    {
        var chunks = new List<ChatChunk>();
        var body = new TrickleStream(frames.SelectMany(f => f).ToArray(), 9);
        await foreach (var chunk in BedrockProvider.ReadStreamAsync(Target, body, "req-9", 1_700_000_000, CancellationToken.None, TestContext.Current.CancellationToken))
        {
            chunks.Add(chunk);
        }
        return chunks;
    }

    [Fact]
    public async Task ReadStream_TextThenToolUse_YieldsRoleTextToolDeltasFinishAndUsage()
    {
        var chunks = await TranslateAsync(
            EventStreamWriter.Event("messageStart", """{"p":"abcdefgh","role":"assistant"}"""),
            EventStreamWriter.Event("contentBlockDelta", """{"contentBlockIndex":0,"delta":{"text":"Let me "},"p":"abcd"}"""),
            EventStreamWriter.Event("contentBlockDelta", """{"contentBlockIndex":0,"delta":{"text":"check."},"p":"ab"}"""),
            EventStreamWriter.Event("contentBlockStop", """{"contentBlockIndex":0,"p":"abcdefghij"}"""),
            EventStreamWriter.Event("contentBlockStart", """{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"tooluse_Xy1","name":"get_weather"}},"p":"a"}"""),
            EventStreamWriter.Event("contentBlockDelta", """{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"city\":"}},"p":"abc"}"""),
            EventStreamWriter.Event("contentBlockDelta", """{"contentBlockIndex":1,"delta":{"toolUse":{"input":"\"Paris\"}"}},"p":"abc"}"""),
            EventStreamWriter.Event("contentBlockStop", """{"contentBlockIndex":1,"p":"abc"}"""),
            EventStreamWriter.Event("messageStop", """{"stopReason":"tool_use","p":"abcdefg"}"""),
            EventStreamWriter.Event("metadata", """{"usage":{"inputTokens":25,"outputTokens":14,"totalTokens":39},"metrics":{"latencyMs":640},"p":"abcdef"}"""));

        Assert.Equal(Role.Assistant, chunks[0].Choices[0].Delta.Role);
        Assert.Equal("Let me check.", string.Concat(chunks.Where(c => c.Choices.Count > 0).Select(c => c.Choices[0].Delta.Content)));
        var calls = chunks.Where(c => c.Choices.Count > 0).SelectMany(c => c.Choices[0].Delta.ToolCalls).ToList();
        Assert.Equal(("tooluse_Xy1", "get_weather", 0), (calls[0].Id, calls[0].Name, calls[0].Index));
        Assert.Equal("""{"city":"Paris"}""", string.Concat(calls.Select(c => c.Arguments)));
        Assert.All(calls, c => Assert.Equal(0, c.Index));
        Assert.Equal(FinishReason.ToolCalls, chunks[^2].Choices[0].FinishReason);
        Assert.Equal((25, 14), (chunks[^1].Usage.InputTokens, chunks[^1].Usage.OutputTokens));
        Assert.All(chunks, c => Assert.Equal(("req-9", "anthropic.claude-3-5-haiku-20241022-v1:0"), (c.Id, c.Model)));
    }

    [Fact]
    public async Task ReadStream_ThrottlingExceptionEvent_IsRateLimited()
    {
        var error = await Assert.ThrowsAsync<GatewayException>(() => TranslateAsync(
            EventStreamWriter.Event("messageStart", """{"role":"assistant"}"""),
            EventStreamWriter.Exception("throttlingException", "Too many tokens, please wait before trying again.")));

        Assert.Equal(ErrorKind.UpstreamRateLimited, error.Kind);
    }

    [Fact]
    public async Task ReadStream_ValidationExceptionEvent_IsInvalidRequest()
    {
        var error = await Assert.ThrowsAsync<GatewayException>(() => TranslateAsync(EventStreamWriter.Exception("validationException", "The model returned an invalid tool call.")));

        Assert.Equal(ErrorKind.InvalidRequest, error.Kind);
    }

    [Fact]
    public async Task ReadStream_EndsBeforeMessageStop_IsAnUpstreamError()
    {
        var error = await Assert.ThrowsAsync<GatewayException>(() => TranslateAsync(
            EventStreamWriter.Event("messageStart", """{"role":"assistant"}"""),
            EventStreamWriter.Event("contentBlockDelta", """{"contentBlockIndex":0,"delta":{"text":"Half"}}""")));

        Assert.Equal(ErrorKind.UpstreamError, error.Kind);
        Assert.Contains("before it finished", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadStream_CorruptFrame_IsAnUpstreamErrorNotACrash()
    {
        var frame = EventStreamWriter.Event("contentBlockDelta", """{"contentBlockIndex":0,"delta":{"text":"Hi"}}""");
        frame[^5] ^= 0xFF;

        var error = await Assert.ThrowsAsync<GatewayException>(() => TranslateAsync(EventStreamWriter.Event("messageStart", """{"role":"assistant"}"""), frame));

        Assert.Equal(ErrorKind.UpstreamError, error.Kind);
        Assert.Contains("corrupt event stream", error.Message, StringComparison.Ordinal);
    }
}
