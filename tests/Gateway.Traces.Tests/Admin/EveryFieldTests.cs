using System.ClientModel;
using System.ClientModel.Primitives;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Gateway.Testing.Fakes;
using Gateway.Traces.Storage;
using Gateway.Traces.Tests.ClickHouse;
using OpenAI;
using OpenAI.Chat;

namespace Gateway.Traces.Tests.Admin;

// One streamed request through the gateway that touches every part of the trace record: a managed prompt in an
// experiment, the guard on both sides (a pseudonymised address in, a card number out), a failed first deployment
// and a fallback, cached and reasoning tokens, client metadata and tags. Every field the trace issue names is read
// back through /admin/v1/traces/{id}, from the SQLite store and from ClickHouse (whose columns are checked too).
public sealed class EveryFieldTests(ClickHouseFixture clickHouse)
{
    private const string Key = "analyst-key-0123456789abcdef";
    private const string UpstreamKey = "sk-upstream-secret-0123456789";
    private const string Prompt = "Please write to jane.doe@example.com about the invoice.";
    private const string ClientText = "Sure, I will write to jane.doe@example.com.\nCard [CREDIT_CARD] noted.\n";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Yaml(FakeOpenAi upstream) => $$"""
        providers:
          openai: { kind: openai, base_url: "{{upstream.Url}}v1", api_key: {{UpstreamKey}} }
        models:
          gpt-4o:
            targets: [{ provider: openai, model: gpt-4o-2024-08-06 }]
            fallbacks: [gpt-4o-mini]
            price: { input: 2.5, output: 10 }
          gpt-4o-mini:
            targets: [{ provider: openai, model: gpt-4o-mini-2024-07-18 }]
            price: { input: 0.15, output: 0.6, cached_input: 0.075 }
        keys:
        {{TestGateway.Key()}}
          - { name: analyst, key: "{{Key}}", team: research, project: lab, environment: staging, user: erin }
        guard:
          policies:
            pii:
              entities: { default: redact, EMAIL: pseudonymize }
              output: { default: redact }
          assign: [{ scope: {}, policy: pii }]
        traces:
          flush_milliseconds: 20
          capture: { default: full }
        """;

    [Theory]
    [InlineData("sqlite")]
    [InlineData("clickhouse")]
    public async Task StreamedRequest_WithPromptGuardFailoverAndTags_EveryFieldStored(string store)
    {
        var database = clickHouse.NewDatabase();
        var traces = store == "clickhouse" ? clickHouse.Require().Uri(database) : null;
        await using var upstream = await FakeOpenAi.StartNewAsync();
        await using var gateway = await TestGateway.StartAsync(Yaml(upstream), traces: traces);
        await AdminAsync(gateway, HttpMethod.Post, "/admin/v1/prompts/support/versions",
            """{"messages":[{"role":"system","content":"You are the {{product}} assistant."}],"variables":[{"name":"product"}]}""");
        await AdminAsync(gateway, HttpMethod.Post, "/admin/v1/prompts/support/versions",
            """{"messages":[{"role":"system","content":"You are the {{product}} expert."}],"variables":[{"name":"product"}]}""");
        await AdminAsync(gateway, HttpMethod.Put, "/admin/v1/prompts/support/labels/production", new { version = 1 });
        await AdminAsync(gateway, HttpMethod.Post, "/admin/v1/prompts/support/experiments", new
        {
            id = "tone", label = "production", sticky = "user",
            arms = new[] { new { name = "a", version = 1, weight = 50 }, new { name = "b", version = 2, weight = 50 } },
        });
        upstream.Replies.Enqueue(FakeReply.Error(500, """{"error":{"message":"overloaded","type":"server_error"}}"""));
        upstream.Replies.Enqueue(new FakeReply
        {
            Text = "Sure, I will write to <EMAIL_1>.\nCard 4111 1111 1111 1111 noted.\n",
            InputTokens = 40, OutputTokens = 12, CachedInputTokens = 16, ReasoningTokens = 5,
        });

        using var recorder = new RequestIdRecorder();
        var chat = new OpenAIClient(new ApiKeyCredential(Key), new OpenAIClientOptions
        {
            Endpoint = new Uri(gateway.HttpBase, "/v1"),
            Transport = new HttpClientPipelineTransport(new HttpClient(recorder, disposeHandler: false)),
            RetryPolicy = new ClientRetryPolicy(0),
        }).GetChatClient("gpt-4o");
        var options = new ChatCompletionOptions { Metadata = { ["ticket"] = "E2E-1", ["tags"] = "beta, eu" } };
#pragma warning disable SCME0001 // JsonPatch (extra body fields) is marked experimental in the SDK.
        options.Patch.Set("$.prompt"u8, BinaryData.FromString("""{"id":"support","label":"production","variables":{"product":"Gateway"}}"""));
#pragma warning restore SCME0001
        var received = new StringBuilder();
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage(Prompt)], options, Ct))
        {
            received.Append(string.Concat(update.ContentUpdate.Select(p => p.Text)));
        }
        Assert.Equal(ClientText, received.ToString());
        var id = recorder.Last!;
        await AdminApi.WaitStoredAsync(gateway, id);

        var (status, trace) = await AdminApi.GetAsync(gateway, $"/admin/v1/traces/{id}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(id, trace.GetProperty("request_id").GetString());
        var started = trace.GetProperty("started_at").GetDateTimeOffset();
        Assert.True(started > TimeProvider.System.GetUtcNow().AddMinutes(-5));
        Assert.True(trace.GetProperty("finished_at").GetDateTimeOffset() > started);
        var principal = trace.GetProperty("principal");
        Assert.Equal(("analyst", "research", "lab", "staging", "erin"), (Text(principal, "key_name"), Text(principal, "team"), Text(principal, "project"), Text(principal, "environment"), Text(principal, "user")));
        Assert.Equal("chat", Text(trace, "api"));
        Assert.Equal("gpt-4o", Text(trace, "requested_model"));
        Assert.Equal("gpt-4o-mini", Text(trace, "served_model"));
        Assert.Equal("openai", Text(trace, "provider"));
        Assert.Equal("gpt-4o-mini-2024-07-18", Text(trace, "upstream_model"));
        Assert.Equal("openai/gpt-4o-mini-2024-07-18", Text(trace, "deployment"));
        Assert.True(trace.GetProperty("stream").GetBoolean());
        Assert.Equal(("ok", "", 200), (Text(trace, "status"), Text(trace, "error_class"), trace.GetProperty("http_status").GetInt32()));
        var usage = trace.GetProperty("usage");
        Assert.Equal((40, 12, 16, 5), (usage.GetProperty("input_tokens").GetInt32(), usage.GetProperty("output_tokens").GetInt32(),
            usage.GetProperty("cached_input_tokens").GetInt32(), usage.GetProperty("reasoning_tokens").GetInt32()));
        Assert.Equal((24 * 0.15 + 16 * 0.075 + 12 * 0.6) / 1e6, trace.GetProperty("cost_usd").GetDouble(), 12);

        var attempts = trace.GetProperty("attempts").EnumerateArray().ToList();
        Assert.Equal(2, attempts.Count);
        Assert.Equal(("gpt-4o", "gpt-4o-2024-08-06", 500), (Text(attempts[0], "model"), Text(attempts[0], "upstream_model"), attempts[0].GetProperty("http_status").GetInt32()));
        Assert.NotEqual("", Text(attempts[0], "error_class"));
        Assert.Equal(("gpt-4o-mini", "openai", 200), (Text(attempts[1], "model"), Text(attempts[1], "provider"), attempts[1].GetProperty("http_status").GetInt32()));
        Assert.All(attempts, a => Assert.True(a.GetProperty("latency_ms").GetDouble() > 0));

        var latencies = trace.GetProperty("latencies");
        foreach (var layer in new[] { "auth_ms", "prompt_ms", "guard_in_ms", "budget_ms", "routing_ms", "provider_ttft_ms", "provider_total_ms", "guard_out_ms", "total_ms" })
        {
            Assert.True(latencies.GetProperty(layer).GetDouble() > 0, $"{layer} = {latencies.GetProperty(layer).GetDouble()}");
        }
        Assert.True(latencies.GetProperty("provider_total_ms").GetDouble() >= latencies.GetProperty("provider_ttft_ms").GetDouble());
        Assert.Equal(latencies.GetProperty("total_ms").GetDouble() - latencies.GetProperty("provider_total_ms").GetDouble(), latencies.GetProperty("overhead_ms").GetDouble(), 6);

        var arm = Text(trace, "experiment_arm");
        Assert.Contains(arm, new[] { "a", "b" });
        Assert.Equal(("support", arm == "a" ? 1 : 2, "production", "tone"), (Text(trace, "prompt_name"), trace.GetProperty("prompt_version").GetInt32(), Text(trace, "prompt_label"), Text(trace, "experiment")));

        Assert.Equal("pii", Text(trace, "guard_policy"));
        Assert.NotEqual("", Text(trace, "guard_action"));
        var findings = trace.GetProperty("guard_findings").EnumerateArray()
            .Select(f => (Text(f, "direction"), Text(f, "entity_type"), f.GetProperty("count").GetInt32())).ToList();
        Assert.Contains(("input", "EMAIL", 1), findings);
        Assert.Contains(("output", "CREDIT_CARD", 1), findings);

        Assert.Equal("full", Text(trace, "capture"));
        var request = Text(trace, "request_body");
        Assert.Contains(arm == "a" ? "You are the Gateway assistant." : "You are the Gateway expert.", request, StringComparison.Ordinal);
        Assert.Contains(Prompt, request, StringComparison.Ordinal);
        var response = JsonDocument.Parse(Text(trace, "response_body")).RootElement;
        Assert.Equal(ClientText, response.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());

        Assert.Equal("E2E-1", trace.GetProperty("metadata").GetProperty("ticket").GetString());
        Assert.Equal(["beta", "eu"], trace.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        foreach (var secret in new[] { Key, UpstreamKey, "4111" })
        {
            Assert.DoesNotContain(secret, trace.GetRawText(), StringComparison.Ordinal);
        }

        if (store == "clickhouse")
        {
            await AssertClickHouseColumnsAsync(clickHouse.Require().Uri(database), id, arm);
        }
    }

    // The same record in the table's own columns, as an analyst's SQL sees it.
    private static async Task AssertClickHouseColumnsAsync(string uri, string id, string arm)
    {
        await using var reader = ClickHouseTraceStore.Open(uri, 30, TimeProvider.System);
        var row = Assert.Single(await reader.RawAsync($$"""
            SELECT key_name, team, project, environment, user, api, requested_model, served_model, provider, deployment, stream,
                   status, http_status, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost_usd > 0 AS costed,
                   length(attempts) AS attempt_count, attempts[1].4 AS first_status,
                   auth_ms > 0 AND prompt_ms > 0 AND guard_in_ms > 0 AND budget_ms > 0 AND routing_ms > 0 AND provider_ttft_ms > 0
                       AND provider_total_ms > 0 AND guard_out_ms > 0 AND total_ms > 0 AND overhead_ms >= 0 AS timed,
                   prompt_name, prompt_version, prompt_label, experiment, experiment_arm, guard_findings['input:EMAIL'] AS emails,
                   guard_findings['output:CREDIT_CARD'] AS cards, metadata['ticket'] AS ticket, arrayStringConcat(tags, ',') AS tags,
                   capture, position(request_body, 'jane.doe@example.com') > 0 AS request_kept, finished_at > started_at AS ordered
            FROM {database}.traces FINAL WHERE request_id = '{{id}}'
            """, Ct));
        string S(string column) => Convert.ToString(row[column], CultureInfo.InvariantCulture)!;
        long N(string column) => Convert.ToInt64(row[column], CultureInfo.InvariantCulture);
        Assert.Equal(("analyst", "research", "lab", "staging", "erin"), (S("key_name"), S("team"), S("project"), S("environment"), S("user")));
        Assert.Equal(("chat", "gpt-4o", "gpt-4o-mini", "openai", "openai/gpt-4o-mini-2024-07-18"), (S("api"), S("requested_model"), S("served_model"), S("provider"), S("deployment")));
        Assert.True(Convert.ToBoolean(row["stream"], CultureInfo.InvariantCulture));
        Assert.Equal(("ok", 200L), (S("status"), N("http_status")));
        Assert.Equal((40L, 12L, 16L, 5L, 1L), (N("input_tokens"), N("output_tokens"), N("cached_input_tokens"), N("reasoning_tokens"), N("costed")));
        Assert.Equal((2L, 500L, 1L), (N("attempt_count"), N("first_status"), N("timed")));
        Assert.Equal(("support", arm == "a" ? 1L : 2L, "production", "tone", arm), (S("prompt_name"), N("prompt_version"), S("prompt_label"), S("experiment"), S("experiment_arm")));
        Assert.Equal((1L, 1L), (N("emails"), N("cards")));
        Assert.Equal(("E2E-1", "beta,eu", "full", 1L, 1L), (S("ticket"), S("tags"), S("capture"), N("request_kept"), N("ordered")));
    }

    private static string Text(JsonElement element, string name) => element.TryGetProperty(name, out var value) ? value.GetString() ?? "" : "";

    private static async Task AdminAsync(TestGateway gateway, HttpMethod method, string path, object body)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(method, new Uri(gateway.HttpBase, path))
        {
            Content = body is string text ? new StringContent(text, Encoding.UTF8, "application/json") : JsonContent.Create(body),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminTracesTests.AdminKey);
        using var response = await http.SendAsync(request, Ct);
        Assert.True(response.IsSuccessStatusCode, $"{method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Ct)}");
    }
}
