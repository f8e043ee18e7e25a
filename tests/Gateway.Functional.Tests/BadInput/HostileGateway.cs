using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Gateway.Common.Clients;
using Gateway.Mcp.Upstreams;
using Gateway.Testing.Fakes;
using Gateway.Traces.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Functional.Tests.BadInput;

[CollectionDefinition(Name)]
public sealed class HostileCollection : ICollectionFixture<HostileGateway>
{
    public const string Name = "hostile input";
}

// One embedded gateway with every surface on (OpenAI, Anthropic, gRPC, /mcp, admin), a budget, a stored prompt
// and a fake upstream, shared by the hostile-input batteries. Snapshot() reads everything a bad request must
// leave alone; ProbeAsync() proves the gateway still serves and that nothing but the probe was traced.
public sealed class HostileGateway : IAsyncLifetime
{
    public const string AdminKey = "test-admin-key-0123456789";

    public FakeOpenAi Upstream { get; private set; } = null!;

    public TestGateway Gateway { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Upstream = await FakeOpenAi.StartNewAsync();
        Gateway = await TestGateway.StartAsync($$"""
            providers:
              openai: { kind: openai, base_url: "{{Upstream.Url}}v1" }
            models:
              gpt-4o:
                targets: [{ provider: openai, model: gpt-4o }]
              text-embedding-3-small:
                targets: [{ provider: openai, model: text-embedding-3-small }]
            budgets:
              - name: hostile
                limit_usd: 100
            traces:
              flush_milliseconds: 20
            keys:
            {{TestGateway.Key()}}
            """);
        Http = new HttpClient { BaseAddress = Gateway.HttpBase, Timeout = TimeSpan.FromMinutes(2) };
        // A prompt with a label, so the prompt store has something a bad request could damage.
        using var version = new HttpRequestMessage(HttpMethod.Post, "/admin/v1/prompts/hostile/versions")
        {
            Content = new StringContent("""{"type":"chat","messages":[{"role":"user","content":"hi"}],"message":"seed"}""", Encoding.UTF8, "application/json"),
        };
        version.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        (await Http.SendAsync(version)).EnsureSuccessStatusCode();
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Gateway.DisposeAsync();
        await Upstream.DisposeAsync();
    }

    public sealed record State(int UpstreamCalls, string Budgets, string Prompts, string Experiments, string McpServers);

    public async Task<State> SnapshotAsync()
    {
        var services = Gateway.Services;
        var budgets = await services.GetRequiredService<IBudgetService>().ListBudgetsAsync(CancellationToken.None);
        var promptService = services.GetRequiredService<IPromptService>();
        var prompts = await promptService.ListPromptsAsync(CancellationToken.None);
        var experiments = await promptService.ListExperimentsAsync(new Contracts.Prompts.V1.ListExperimentsRequest { Prompt = "hostile" }, CancellationToken.None);
        var servers = string.Join(",", services.GetRequiredService<UpstreamRegistry>().Servers.Select(s => s.Name));
        return new State(Upstream.CallCount, budgets.ToString(), prompts.ToString(), experiments.ToString(), servers);
    }

    // A good request after a bad one: served, and the only trace written since `since`.
    public async Task ProbeAsync(DateTimeOffset since)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o","messages":[{"role":"user","content":"still there?"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestGateway.DefaultKey);
        var response = await Http.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var requestId = response.Headers.GetValues("x-request-id").Single();
        await Gateway.TraceAsync(requestId);
        var store = Gateway.Services.GetRequiredService<ITraceStore>();
        var page = await store.QueryAsync(new TraceFilter { From = since, Limit = TraceFilter.MaxLimit }, TestContext.Current.CancellationToken);
        Assert.Equal([requestId], page.Traces.Select(t => t.RequestId));
    }

    // Sends a body as-is (or chunked, without Content-Length). Bodies past the limit go over a raw socket, as a
    // hostile client sends them: the gateway answers 413 and closes while the client is still writing, which
    // HttpClient reports as a broken pipe instead of the answer.
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HostileRequest body, Action<HttpRequestMessage> authorize)
    {
        var request = new HttpRequestMessage(method, path) { Content = new ByteArrayContent(body.Body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.TransferEncodingChunked = body.Chunked;
        authorize(request);
        return body.Body.Length > 1024 * 1024 * 4
            ? await RawHttp.SendAsync(Gateway.HttpBase, request, body.Body, body.Chunked, TestContext.Current.CancellationToken)
            : await Http.SendAsync(request, TestContext.Current.CancellationToken);
    }

    // ---- error shapes -------------------------------------------------------------------------------

    public static async Task<JsonElement> ReadErrorAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        // An error never echoes a huge input back.
        Assert.True(text.Length < 8 * 1024, $"error body of {text.Length} characters");
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    public static async Task AssertOpenAiShapeAsync(HttpResponseMessage response)
    {
        Assert.True(response.Headers.Contains("x-request-id"));
        var error = (await ReadErrorAsync(response)).GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("type").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("code").GetString()));
        Assert.True(error.TryGetProperty("param", out _));
    }

    public static async Task AssertAnthropicShapeAsync(HttpResponseMessage response)
    {
        var root = await ReadErrorAsync(response);
        Assert.Equal("error", root.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(root.GetProperty("error").GetProperty("type").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(root.GetProperty("error").GetProperty("message").GetString()));
    }

    public static async Task AssertJsonRpcShapeAsync(HttpResponseMessage response)
    {
        var root = await ReadErrorAsync(response);
        Assert.Equal("2.0", root.GetProperty("jsonrpc").GetString());
        Assert.Equal(JsonValueKind.Number, root.GetProperty("error").GetProperty("code").ValueKind);
        Assert.False(string.IsNullOrWhiteSpace(root.GetProperty("error").GetProperty("message").GetString()));
    }
}
