using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Gateway.Testing.Fakes;

namespace Gateway.Prompts.Tests;

// An embedded gateway with one OpenAI-wire fake upstream, plus helpers for the admin prompt API.
public sealed class PromptGateway : IAsyncDisposable
{
    public const string AdminKey = "test-admin-key-0123456789";
    public const string EditorKey = "editor-key-0123456789abcdef";

    private PromptGateway(FakeOpenAi upstream, TestGateway gateway)
    {
        Upstream = upstream;
        Gateway = gateway;
        Http = new HttpClient { BaseAddress = gateway.HttpBase };
    }

    public FakeOpenAi Upstream { get; }

    public TestGateway Gateway { get; }

    public HttpClient Http { get; }

    public static string Yaml(Uri upstream, string extra = "") => $$"""
        providers:
          openai: { kind: openai, base_url: "{{upstream}}v1", api_key: sk-upstream-secret }
        models:
          gpt-4o:
            targets: [{ provider: openai, model: gpt-4o-2024-08-06 }]
            price: { input: 2.5, output: 10 }
          gpt-4o-mini:
            targets: [{ provider: openai, model: gpt-4o-mini-2024-07-18 }]
            price: { input: 0.15, output: 0.6 }
        keys:
        {{TestGateway.Key()}}
          - { name: editor, key: "{{EditorKey}}", team: qa, roles: [prompt-editor] }
        {{extra}}
        """;

    public static async Task<PromptGateway> StartAsync(string extra = "", string? state = null, FakeOpenAi? upstream = null)
    {
        upstream ??= await FakeOpenAi.StartNewAsync();
        var gateway = await TestGateway.StartAsync(Yaml(upstream.Url, extra), state: state);
        return new PromptGateway(upstream, gateway);
    }

    public async Task<JsonElement> AdminAsync(HttpMethod method, string path, object? body = null, string key = AdminKey, int expect = 200)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (body is not null)
        {
            request.Content = body is string text ? new StringContent(text, System.Text.Encoding.UTF8, "application/json") : JsonContent.Create(body);
        }
        using var response = await Http.SendAsync(request, TestContext.Current.CancellationToken);
        var content = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True((int)response.StatusCode == expect || (expect == 200 && (int)response.StatusCode == 201), $"{method} {path}: {(int)response.StatusCode} {content}");
        return JsonDocument.Parse(content).RootElement.Clone();
    }

    public Task<JsonElement> CreateVersionAsync(string name, string definitionJson)
        => AdminAsync(HttpMethod.Post, $"/admin/v1/prompts/{name}/versions", definitionJson);

    public Task<JsonElement> SetLabelAsync(string name, string label, int version)
        => AdminAsync(HttpMethod.Put, $"/admin/v1/prompts/{name}/labels/{label}", new { version });

    // A raw chat completion with the gateway key; returns status, headers and body.
    public async Task<(int Status, HttpResponseHeaders Headers, JsonElement Body)> ChatAsync(object body, string key = TestGateway.DefaultKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await Http.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return ((int)response.StatusCode, response.Headers, JsonDocument.Parse(text).RootElement.Clone());
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Gateway.DisposeAsync();
        await Upstream.DisposeAsync();
    }
}
