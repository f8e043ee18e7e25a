using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Anthropic;
using Anthropic.Models.Messages;
using Gateway.Testing.Fakes;

namespace Gateway.Functional.Tests.Guard;

// Thinking streamed to a client passes the output guard like the answer does. Through /v1/messages with the
// official Anthropic SDK: a signed Anthropic thinking block the policy would rewrite is dropped whole (its
// signature cannot survive an edit), a clean one keeps text and signature; unsigned reasoning from an
// OpenAI-compatible server (vLLM's `reasoning_content`) comes out redacted; a blocked type ends the stream.
// The fakes stream thinking in five-character pieces, so every value spans several deltas.
public sealed class StreamedThinkingGuardTests : IAsyncLifetime
{
    private const string Claude = "claude-sonnet-4";
    private const string Vllm = "qwen3";

    private FakeAnthropic _anthropic = null!;
    private FakeOpenAi _vllm = null!;
    private TestGateway _gateway = null!;

    public async ValueTask InitializeAsync()
    {
        _anthropic = await FakeAnthropic.StartNewAsync();
        _vllm = await FakeOpenAi.StartNewAsync();
        _gateway = await TestGateway.StartAsync($$"""
            providers:
              anthropic: { kind: anthropic, base_url: "{{_anthropic.Url}}", api_key: sk-ant-upstream }
              vllm: { kind: openai, base_url: "{{_vllm.Url}}v1" }
            models:
              {{Claude}}:
                targets: [{ provider: anthropic, model: claude-sonnet-4-20250514 }]
              {{Vllm}}:
                targets: [{ provider: vllm, model: Qwen/Qwen3-8B }]
            keys:
            {{TestGateway.Key()}}
            guard:
              policies:
                strict:
                  entities: { default: redact }
                  output: { default: redact, CREDIT_CARD: block }
              assign:
                - { scope: {}, policy: strict }
            """);
    }

    public async ValueTask DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _vllm.DisposeAsync();
        await _anthropic.DisposeAsync();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed record Streamed(List<string> Blocks, string Thinking, string? Signature, string Text);

    private async Task<Streamed> StreamAsync(string model)
    {
        var client = new AnthropicClient { ApiKey = TestGateway.DefaultKey, BaseUrl = _gateway.HttpBase.ToString(), MaxRetries = 0 };
        var request = new MessageCreateParams
        {
            Model = model,
            MaxTokens = 4096,
            Thinking = new ThinkingConfigEnabled { BudgetTokens = 2048 },
            Messages = [new UserMessageParam { Content = "Who do I contact?" }],
        };
        var blocks = new List<string>();
        var thinking = new StringBuilder();
        var text = new StringBuilder();
        string? signature = null;
        await foreach (var e in client.Messages.CreateStreaming(request, Ct))
        {
            if (e.TryPickContentBlockStart(out var start))
            {
                blocks.Add(start.ContentBlock.Type.Raw());
            }
            if (e.TryPickContentBlockDelta(out var delta))
            {
                if (delta.Delta.TryPickThinking(out var t))
                {
                    thinking.Append(t.Thinking);
                }
                if (delta.Delta.TryPickText(out var x))
                {
                    text.Append(x.Text);
                }
                if (delta.Delta.TryPickSignature(out var s))
                {
                    signature = s.Signature;
                }
            }
        }
        return new Streamed(blocks, thinking.ToString(), signature, text.ToString());
    }

    [Fact]
    public async Task SignedThinkingWithPii_IsDroppedWholeAndTheAnswerStillStreams()
    {
        _anthropic.Replies.Enqueue(new FakeReply { Thinking = "The file says maria.schmidt@acme.de handles refunds.", Text = "Write to the refunds desk." });

        var streamed = await StreamAsync(Claude);

        Assert.Equal(["text"], streamed.Blocks);
        Assert.Equal(("", null), (streamed.Thinking, streamed.Signature));
        Assert.Equal("Write to the refunds desk.", streamed.Text);
        var trace = await _gateway.SingleTraceAsync();
        Assert.Contains(trace.GuardFindings, f => f.EntityType == "EMAIL" && f.Direction == "output");
    }

    [Fact]
    public async Task SignedThinkingWithoutFindings_KeepsTextAndSignature()
    {
        _anthropic.Replies.Enqueue(new FakeReply { Thinking = "The refunds desk handles this; no names needed.", Text = "Write to the refunds desk." });

        var streamed = await StreamAsync(Claude);

        Assert.Equal(["thinking", "text"], streamed.Blocks);
        Assert.Equal(("The refunds desk handles this; no names needed.", FakeAnthropic.Signature), (streamed.Thinking, streamed.Signature));
        Assert.Equal("Write to the refunds desk.", streamed.Text);
    }

    [Fact]
    public async Task UnsignedReasoningWithPii_IsRedactedBeforeTheAnswer()
    {
        _vllm.Replies.Enqueue(new FakeReply { Thinking = "Their server is 10.20.30.40 and the mail maria.schmidt@acme.de.", Text = "Ask the admin." });

        var streamed = await StreamAsync(Vllm);

        Assert.Equal(["thinking", "text"], streamed.Blocks);
        Assert.Equal("Their server is [IP_ADDRESS] and the mail [EMAIL].", streamed.Thinking);
        Assert.Null(streamed.Signature);
        Assert.Equal("Ask the admin.", streamed.Text);
    }

    [Fact]
    public async Task BlockedTypeInThinking_EndsTheStreamWithAnErrorAndNeverShowsTheValue()
    {
        _anthropic.Replies.Enqueue(new FakeReply { Thinking = "Their card is 4111 1111 1111 1111, use it.", Text = "Done." });
        using var http = new HttpClient { BaseAddress = _gateway.HttpBase };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages")
        {
            Content = new StringContent(new JsonObject
            {
                ["model"] = Claude,
                ["max_tokens"] = 4096,
                ["stream"] = true,
                ["thinking"] = new JsonObject { ["type"] = "enabled", ["budget_tokens"] = 2048 },
                ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Pay it." }),
            }.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-api-key", TestGateway.DefaultKey);
        request.Headers.Add("anthropic-version", "2023-06-01");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        // After the error event the gateway cuts the response off, so no client takes it for a whole answer.
        var raw = new StringBuilder();
        using (var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Ct)))
        {
            try
            {
                while (await reader.ReadLineAsync(Ct) is { } line)
                {
                    raw.Append(line).Append('\n');
                }
                Assert.Fail("the stream should end abruptly after its error event");
            }
            catch (IOException)
            {
            }
        }

        var events = raw.ToString();
        Assert.Contains("event: error", events, StringComparison.Ordinal);
        Assert.Contains("blocked by guard policy 'strict': it contains CREDIT_CARD", events, StringComparison.Ordinal);
        Assert.DoesNotContain("1111", events, StringComparison.Ordinal);
        Assert.DoesNotContain("Done.", events, StringComparison.Ordinal);
    }
}
