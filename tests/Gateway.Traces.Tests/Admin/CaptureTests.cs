#pragma warning disable OPENAI001 // the Responses API surface of the OpenAI SDK is marked experimental
using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Text;
using System.Text.Json;
using Anthropic;
using Anthropic.Models.Messages;
using Gateway.Testing.Fakes;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;
using OpenAI.Responses;

namespace Gateway.Traces.Tests.Admin;

// What the stored trace keeps of the bodies under each capture policy, for every API, streamed and not, read
// back through /admin/v1/traces/{id}. The guard pseudonymises e-mail addresses on the way in and redacts card
// numbers on the way out, so the three views differ: `full` keeps what the client sent and received (the
// address restored), `redacted` what the guard let through (placeholder in, card masked), `metadata` nothing.
public sealed class CaptureTests(CaptureTests.Gateway gateway) : IClassFixture<CaptureTests.Gateway>
{
    private const string FullKey = "capture-full-0123456789abcdef";
    private const string RedactedKey = "capture-redacted-0123456789ab";
    private const string MetadataKey = "capture-meta-0123456789abcdef";

    private const string Email = "jane.doe@example.com";
    private const string Prompt = "Please write to " + Email + " about the invoice.";
    private const string GuardedPrompt = "Please write to <EMAIL_1> about the invoice.";

    // The model answers with the placeholder it was given and a card number of its own.
    private const string ModelText = "Sure, I will write to <EMAIL_1>.\nYour card 4111 1111 1111 1111 is on file.\n";
    private const string GuardedText = "Sure, I will write to <EMAIL_1>.\nYour card [CREDIT_CARD] is on file.\n";
    private const string ClientText = "Sure, I will write to " + Email + ".\nYour card [CREDIT_CARD] is on file.\n";

    private const string ModelArguments = """{"to":"<EMAIL_1>","card":"4111 1111 1111 1111"}""";
    private const string GuardedArguments = """{"to":"<EMAIL_1>","card":"[CREDIT_CARD]"}""";
    private const string ClientArguments = """{"to":"jane.doe@example.com","card":"[CREDIT_CARD]"}""";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public sealed class Gateway : IAsyncLifetime
    {
        public FakeOpenAi Upstream { get; private set; } = null!;

        public TestGateway Server { get; private set; } = null!;

        public RequestIdRecorder Recorder { get; } = new();

        public async ValueTask InitializeAsync()
        {
            Upstream = await FakeOpenAi.StartNewAsync();
            Server = await TestGateway.StartAsync($$"""
                providers:
                  openai: { kind: openai, base_url: "{{Upstream.Url}}v1", api_key: sk-upstream-secret-0123456789 }
                models:
                  gpt-4o:
                    targets: [{ provider: openai, model: gpt-4o-2024-08-06 }]
                    price: { input: 2.5, output: 10 }
                  text-embedding-3-small:
                    targets: [{ provider: openai, model: text-embedding-3-small }]
                keys:
                {{TestGateway.Key()}}
                  - { name: full, key: "{{FullKey}}", team: research }
                  - { name: redacted, key: "{{RedactedKey}}", team: research }
                  - { name: meta, key: "{{MetadataKey}}", team: research }
                guard:
                  policies:
                    pii:
                      entities: { default: redact, EMAIL: pseudonymize }
                      output: { default: redact }
                  assign: [{ scope: {}, policy: pii }]
                traces:
                  flush_milliseconds: 20
                  capture:
                    default: redacted
                    keys: { full: full, meta: metadata }
                """);
        }

        public async ValueTask DisposeAsync()
        {
            Recorder.Dispose();
            await Server.DisposeAsync();
            await Upstream.DisposeAsync();
        }
    }

    public static TheoryData<string, bool> Policies => new()
    {
        { "full", false }, { "full", true },
        { "redacted", false }, { "redacted", true },
        { "metadata", false }, { "metadata", true },
    };

    private static string KeyFor(string policy) => policy switch
    {
        "full" => FullKey,
        "redacted" => RedactedKey,
        _ => MetadataKey,
    };

    private HttpClient Http() => new(gateway.Recorder, disposeHandler: false);

    private OpenAIClient OpenAi(string policy) => new(new ApiKeyCredential(KeyFor(policy)), new OpenAIClientOptions
    {
        Endpoint = new Uri(gateway.Server.HttpBase, "/v1"),
        Transport = new HttpClientPipelineTransport(Http()),
        RetryPolicy = new ClientRetryPolicy(0),
    });

    private AnthropicClient Anthropic(string policy) => new() { ApiKey = KeyFor(policy), BaseUrl = gateway.Server.HttpBase.ToString(), MaxRetries = 0, HttpClient = Http() };

    // The stored trace of the request just answered, through the admin API.
    private async Task<JsonElement> TraceAsync(string policy)
    {
        var id = gateway.Recorder.Last ?? throw new InvalidOperationException("no x-request-id");
        await AdminApi.WaitStoredAsync(gateway.Server, id);
        var (status, trace) = await AdminApi.GetAsync(gateway.Server, $"/admin/v1/traces/{id}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(policy, trace.GetProperty("capture").GetString());
        if (policy != "full")
        {
            Assert.DoesNotContain(Email, trace.GetRawText(), StringComparison.Ordinal);
            Assert.DoesNotContain("4111", trace.GetRawText(), StringComparison.Ordinal);
        }
        if (policy == "metadata")
        {
            Assert.Equal("", trace.GetProperty("request_body").GetString());
            Assert.Equal("", trace.GetProperty("response_body").GetString());
        }
        return trace;
    }

    private static JsonElement Body(JsonElement trace, string name) => JsonDocument.Parse(trace.GetProperty(name).GetString()!).RootElement.Clone();

    // The last user message of a captured chat request, whether its content is a string or text parts.
    private static string UserText(JsonElement trace)
    {
        var user = Body(trace, "request_body").GetProperty("messages").EnumerateArray().Last(m => m.GetProperty("role").GetString() == "user");
        var content = user.GetProperty("content");
        return content.ValueKind == JsonValueKind.String ? content.GetString()! : string.Concat(content.EnumerateArray().Select(p => p.GetProperty("text").GetString()));
    }

    private static JsonElement Message(JsonElement trace) => Body(trace, "response_body").GetProperty("choices").EnumerateArray().Single().GetProperty("message");

    // Exactly the bodies the policy keeps: request as sent or as guarded, response as received or as guarded.
    private void AssertTextBodies(JsonElement trace, string policy)
    {
        if (policy == "metadata")
        {
            return;
        }
        Assert.Equal(policy == "full" ? Prompt : GuardedPrompt, UserText(trace));
        Assert.Equal(policy == "full" ? ClientText : GuardedText, Message(trace).GetProperty("content").GetString());
        Assert.Equal("stop", Body(trace, "response_body").GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    private void AssertUpstreamSawPlaceholder()
    {
        var sent = gateway.Upstream.LastRequest.Body;
        Assert.Contains("<EMAIL_1>", sent, StringComparison.Ordinal);
        Assert.DoesNotContain(Email, sent, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public async Task ChatCompletions_BodiesAsThePolicySays(string policy, bool stream)
    {
        gateway.Upstream.Replies.Enqueue(FakeReply.Say(ModelText));
        var chat = OpenAi(policy).GetChatClient("gpt-4o");
        string received;
        if (stream)
        {
            var text = new StringBuilder();
            await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage(Prompt)], cancellationToken: Ct))
            {
                text.Append(string.Concat(update.ContentUpdate.Select(p => p.Text)));
            }
            received = text.ToString();
        }
        else
        {
            received = (await chat.CompleteChatAsync([new UserChatMessage(Prompt)], cancellationToken: Ct)).Value.Content[0].Text;
        }
        Assert.Equal(ClientText, received);
        AssertUpstreamSawPlaceholder();

        var trace = await TraceAsync(policy);
        Assert.Equal(stream, trace.GetProperty("stream").GetBoolean());
        AssertTextBodies(trace, policy);
    }

    // Tool-call arguments streamed in pieces are accumulated and, streamed or not, scanned whole by the output guard
    // (the card number is masked for everyone); redacted keeps the placeholder, full the restored address.
    [Theory]
    [MemberData(nameof(Policies))]
    public async Task ChatCompletions_ToolCallArguments_AsThePolicySays(string policy, bool stream)
    {
        gateway.Upstream.Replies.Enqueue(FakeReply.Call("call_1", "send_email", ModelArguments));
        var chat = OpenAi(policy).GetChatClient("gpt-4o");
        string arguments;
        if (stream)
        {
            var text = new StringBuilder();
            await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage(Prompt)], cancellationToken: Ct))
            {
                foreach (var call in update.ToolCallUpdates)
                {
                    text.Append(call.FunctionArgumentsUpdate?.ToString());
                }
            }
            arguments = text.ToString();
        }
        else
        {
            arguments = (await chat.CompleteChatAsync([new UserChatMessage(Prompt)], cancellationToken: Ct)).Value.ToolCalls.Single().FunctionArguments.ToString();
        }
        Assert.Equal(ClientArguments, arguments);

        var trace = await TraceAsync(policy);
        if (policy == "metadata")
        {
            return;
        }
        var message = Message(trace);
        Assert.Equal(JsonValueKind.Null, message.GetProperty("content").ValueKind);
        var stored = message.GetProperty("tool_calls").EnumerateArray().Single();
        Assert.Equal("call_1", stored.GetProperty("id").GetString());
        Assert.Equal("send_email", stored.GetProperty("function").GetProperty("name").GetString());
        Assert.Equal(policy == "full" ? ClientArguments : GuardedArguments, stored.GetProperty("function").GetProperty("arguments").GetString());
        Assert.Equal("tool_calls", Body(trace, "response_body").GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public async Task Messages_BodiesAsThePolicySays(string policy, bool stream)
    {
        gateway.Upstream.Replies.Enqueue(FakeReply.Say(ModelText));
        var request = new MessageCreateParams { Model = "gpt-4o", MaxTokens = 256, Messages = [new UserMessageParam { Content = Prompt }] };
        var received = new StringBuilder();
        if (stream)
        {
            await foreach (var e in Anthropic(policy).Messages.CreateStreaming(request, Ct))
            {
                if (e.TryPickContentBlockDelta(out var delta) && delta.Delta.TryPickText(out var piece))
                {
                    received.Append(piece.Text);
                }
            }
        }
        else
        {
            var message = await Anthropic(policy).Messages.Create(request, Ct);
            Assert.True(message.Content.Single().TryPickText(out var text));
            received.Append(text.Text);
        }
        Assert.Equal(ClientText, received.ToString());
        AssertUpstreamSawPlaceholder();

        var trace = await TraceAsync(policy);
        Assert.Equal("messages", trace.GetProperty("api").GetString());
        Assert.Equal(stream, trace.GetProperty("stream").GetBoolean());
        AssertTextBodies(trace, policy);
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public async Task Responses_BodiesAsThePolicySays(string policy, bool stream)
    {
        gateway.Upstream.Replies.Enqueue(FakeReply.Say(ModelText));
        var client = OpenAi(policy).GetResponsesClient();
        var options = new CreateResponseOptions { Model = "gpt-4o" };
        options.InputItems.Add(ResponseItem.CreateUserMessageItem(Prompt));
        string received;
        if (stream)
        {
            options.StreamingEnabled = true;
            var text = new StringBuilder();
            await foreach (var update in await client.CreateResponseStreamingAsync(options, Ct))
            {
                if (update is StreamingResponseOutputTextDeltaUpdate delta)
                {
                    text.Append(delta.Delta);
                }
            }
            received = text.ToString();
        }
        else
        {
            received = (await client.CreateResponseAsync(options, Ct)).Value.GetOutputText();
        }
        Assert.Equal(ClientText, received);
        AssertUpstreamSawPlaceholder();

        var trace = await TraceAsync(policy);
        Assert.Equal("responses", trace.GetProperty("api").GetString());
        Assert.Equal(stream, trace.GetProperty("stream").GetBoolean());
        AssertTextBodies(trace, policy);
    }

    // Embeddings keep the inputs (as sent, or as guarded) and a summary of the response: no vectors.
    [Theory]
    [InlineData("full")]
    [InlineData("redacted")]
    [InlineData("metadata")]
    public async Task Embeddings_InputsAndResponseSummary_AsThePolicySays(string policy)
    {
        var result = await OpenAi(policy).GetEmbeddingClient("text-embedding-3-small")
            .GenerateEmbeddingsAsync([Prompt, "second input"], new EmbeddingGenerationOptions { Dimensions = 8 }, Ct);
        Assert.Equal(2, result.Value.Count);
        AssertUpstreamSawPlaceholder();

        var trace = await TraceAsync(policy);
        Assert.Equal("embeddings", trace.GetProperty("api").GetString());
        if (policy == "metadata")
        {
            return;
        }
        var request = Body(trace, "request_body");
        Assert.Equal("text-embedding-3-small", request.GetProperty("model").GetString());
        Assert.Equal([policy == "full" ? Prompt : GuardedPrompt, "second input"], request.GetProperty("input").EnumerateArray().Select(i => i.GetString()));
        Assert.Equal(8, request.GetProperty("dimensions").GetInt32());
        var response = Body(trace, "response_body");
        Assert.Equal(2, response.GetProperty("count").GetInt32());
        Assert.Equal(8, response.GetProperty("dimensions").GetInt32());
        var promptTokens = response.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();
        Assert.Equal(trace.GetProperty("usage").GetProperty("input_tokens").GetInt32(), promptTokens);
        Assert.True(promptTokens > 0);
        Assert.False(response.TryGetProperty("data", out _));
        Assert.DoesNotContain("embedding\"", trace.GetProperty("response_body").GetString(), StringComparison.Ordinal);
    }
}
