using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Gateway.Testing.Fakes;
using Gateway.Traces.Ingest;
using OpenAI;
using OpenAI.Chat;

namespace Gateway.Traces.Tests.Admin;

// One request through the embedded gateway (official OpenAI SDK, fake OpenAI upstream) is visible through
// /admin/v1/traces with every field, under the capture policy of its key.
public sealed class AdminTracesTests : IAsyncLifetime
{
    public const string AdminKey = "test-admin-key-0123456789";
    private const string FullKey = "full-key-0123456789abcdef";
    private const string MetadataKey = "meta-key-0123456789abcdef";

    private FakeOpenAi _upstream = null!;
    private TestGateway _gateway = null!;
    private readonly HttpClient _http = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _upstream = await FakeOpenAi.StartNewAsync();
        _gateway = await TestGateway.StartAsync(GatewayYaml(_upstream));
    }

    public static string GatewayYaml(FakeOpenAi upstream) => $$"""
        providers:
          openai: { kind: openai, base_url: "{{upstream.Url}}v1", api_key: sk-upstream-secret-0123456789 }
        models:
          gpt-4o:
            targets: [{ provider: openai, model: gpt-4o-2024-08-06 }]
            price: { input: 2.5, output: 10 }
        keys:
        {{TestGateway.Key()}}
          - { name: full, key: "{{FullKey}}", team: research, project: lab, environment: dev, user: erin }
          - { name: meta, key: "{{MetadataKey}}", team: legal, project: contracts, environment: prod }
        traces:
          flush_milliseconds: 20
          capture:
            default: redacted
            teams: { legal: metadata }
            keys: { full: full }
        """;

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private ChatClient Chat(string key) => new OpenAIClient(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(_gateway.HttpBase, "/v1") }).GetChatClient("gpt-4o");

    // Sends one chat request and waits until its trace is in the store.
    public static async Task<string> ChatAndWaitAsync(TestGateway gateway, ChatClient chat, string prompt, IDictionary<string, string>? metadata = null)
    {
        var ingestor = (TraceIngestor)gateway.Services.GetService(typeof(TraceIngestor))!;
        await ingestor.Ready.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        var options = new ChatCompletionOptions();
        foreach (var (k, v) in metadata ?? new Dictionary<string, string>())
        {
            options.Metadata[k] = v;
        }
        var result = await chat.CompleteChatAsync([new UserChatMessage(prompt)], options, Ct);
        var requestId = result.GetRawResponse().Headers.TryGetValue("x-request-id", out var id) ? id! : throw new InvalidOperationException("no x-request-id");
        await AdminApi.WaitStoredAsync(gateway, requestId);
        return requestId;
    }

    private async Task<(HttpStatusCode, JsonElement)> GetAsync(string path, string? key = AdminKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_gateway.HttpBase, path));
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        using var response = await _http.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    [Theory]
    [InlineData(null, "Missing admin key")]
    [InlineData("wrong-admin-key-0123456789", "Incorrect admin key")]
    [InlineData(TestGateway.DefaultKey, "Incorrect admin key")]
    public async Task AdminTraces_WithoutTheAdminKey_401InOpenAiShape(string? key, string message)
    {
        var (status, body) = await GetAsync("/admin/v1/traces", key);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        var error = body.GetProperty("error");
        Assert.StartsWith(message, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("invalid_admin_key", error.GetProperty("code").GetString());
        Assert.Equal("authentication_error", error.GetProperty("type").GetString());
    }

    [Fact]
    public async Task ChatRequest_VisibleInTheAdminApi_WithEveryField()
    {
        var id = await ChatAndWaitAsync(_gateway, Chat(FullKey), "What is the capital of France?", new Dictionary<string, string> { ["ticket"] = "T-42", ["tags"] = "beta, eu" });

        var (status, list) = await GetAsync("/admin/v1/traces?team=research&model=gpt-4o&status=ok");
        Assert.Equal(HttpStatusCode.OK, status);
        var summary = Assert.Single(list.GetProperty("data").EnumerateArray(), t => t.GetProperty("request_id").GetString() == id);
        Assert.Equal("", summary.GetProperty("request_body").GetString());

        var (_, trace) = await GetAsync($"/admin/v1/traces/{id}");
        Assert.Equal(id, trace.GetProperty("request_id").GetString());
        var principal = trace.GetProperty("principal");
        Assert.Equal(("full", "research", "lab", "dev", "erin"), (principal.GetProperty("key_name").GetString(), principal.GetProperty("team").GetString(),
            principal.GetProperty("project").GetString(), principal.GetProperty("environment").GetString(), principal.GetProperty("user").GetString()));
        Assert.Equal("chat", trace.GetProperty("api").GetString());
        Assert.Equal("gpt-4o", trace.GetProperty("requested_model").GetString());
        Assert.Equal("gpt-4o", trace.GetProperty("served_model").GetString());
        Assert.Equal("openai", trace.GetProperty("provider").GetString());
        Assert.Equal("gpt-4o-2024-08-06", trace.GetProperty("upstream_model").GetString());
        Assert.Equal("openai/gpt-4o-2024-08-06", trace.GetProperty("deployment").GetString());
        Assert.Equal("ok", trace.GetProperty("status").GetString());
        Assert.Equal(200, trace.GetProperty("http_status").GetInt32());
        Assert.Equal(11, trace.GetProperty("usage").GetProperty("input_tokens").GetInt32());
        Assert.Equal(7, trace.GetProperty("usage").GetProperty("output_tokens").GetInt32());
        Assert.Equal((11 * 2.5 + 7 * 10) / 1e6, trace.GetProperty("cost_usd").GetDouble(), 12);
        var attempt = Assert.Single(trace.GetProperty("attempts").EnumerateArray());
        Assert.Equal(200, attempt.GetProperty("http_status").GetInt32());
        var latencies = trace.GetProperty("latencies");
        Assert.True(latencies.GetProperty("total_ms").GetDouble() >= latencies.GetProperty("provider_total_ms").GetDouble());
        Assert.True(latencies.GetProperty("provider_total_ms").GetDouble() > 0);
        Assert.Equal(latencies.GetProperty("total_ms").GetDouble() - latencies.GetProperty("provider_total_ms").GetDouble(), latencies.GetProperty("overhead_ms").GetDouble(), 6);
        Assert.Equal("T-42", trace.GetProperty("metadata").GetProperty("ticket").GetString());
        Assert.Equal(["beta", "eu"], trace.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.True(trace.GetProperty("finished_at").GetDateTimeOffset() >= trace.GetProperty("started_at").GetDateTimeOffset());
        // The "full" key keeps both bodies.
        Assert.Equal("full", trace.GetProperty("capture").GetString());
        Assert.Contains("What is the capital of France?", trace.GetProperty("request_body").GetString(), StringComparison.Ordinal);
        Assert.Contains("Echo: What is the capital of France?", trace.GetProperty("response_body").GetString(), StringComparison.Ordinal);

        var (_, series) = await GetAsync("/admin/v1/traces/stats/series?group_by=team&team=research&bucket=60");
        var point = Assert.Single(series.GetProperty("data").EnumerateArray());
        Assert.Equal("research", point.GetProperty("group").GetString());
        Assert.Equal(1, point.GetProperty("requests").GetInt64());
        var (_, latency) = await GetAsync("/admin/v1/traces/stats/latency?group_by=model&team=research");
        var row = Assert.Single(latency.GetProperty("data").EnumerateArray());
        Assert.Equal("gpt-4o", row.GetProperty("group").GetString());
        Assert.Equal(0, row.GetProperty("error_rate").GetDouble());
    }

    [Theory]
    [InlineData(MetadataKey, "metadata")]
    [InlineData(TestGateway.DefaultKey, "redacted")]
    public async Task CapturePolicy_MetadataOrRedactedWithoutGuard_KeepsNoBodies(string key, string policy)
    {
        var id = await ChatAndWaitAsync(_gateway, Chat(key), "My email is jane.doe@example.com");
        var (_, trace) = await GetAsync($"/admin/v1/traces/{id}");
        Assert.Equal(policy, trace.GetProperty("capture").GetString());
        Assert.Equal("", trace.GetProperty("request_body").GetString());
        Assert.Equal("", trace.GetProperty("response_body").GetString());
        Assert.DoesNotContain("jane.doe", trace.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AdminTraces_UnknownIdAndBadParameters_OpenAiErrors()
    {
        var (status, body) = await GetAsync("/admin/v1/traces/does-not-exist");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("trace_not_found", body.GetProperty("error").GetProperty("code").GetString());
        foreach (var (query, param) in new[] { ("from=yesterday", "from"), ("limit=0", "limit"), ("status=weird", "status"), ("cursor=%21%21", "cursor") })
        {
            (status, body) = await GetAsync("/admin/v1/traces?" + query);
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal(param, body.GetProperty("error").GetProperty("param").GetString());
        }
        (status, body) = await GetAsync("/admin/v1/traces/stats/series?group_by=color");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("group_by", body.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task AdminTraces_Paging_FollowsNextCursor()
    {
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await ChatAndWaitAsync(_gateway, Chat(MetadataKey), $"page {i}"));
        }
        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var (_, page) = await GetAsync("/admin/v1/traces?team=legal&limit=2" + (cursor is null ? "" : "&cursor=" + cursor));
            seen.AddRange(page.GetProperty("data").EnumerateArray().Select(t => t.GetProperty("request_id").GetString()!));
            cursor = page.GetProperty("next_cursor").GetString();
        }
        while (cursor is not null);
        Assert.Equal(ids.AsEnumerable().Reverse(), seen.Where(ids.Contains));
    }
}
