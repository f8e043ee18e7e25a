using System.ClientModel;
using System.Text.Json;
using Gateway.Budget;
using Gateway.Common.Hosting;
using Gateway.Guard;
using Gateway.Prompts;
using Gateway.Router;
using Gateway.Testing.Fakes;
using Microsoft.AspNetCore.Builder;
using OpenAI;
using OpenAI.Chat;

namespace Gateway.Functional.Tests.Mesh;

// Each service in its own host with its own gRPC port, wired by `services.*` addresses: the edge calls the
// router over gRPC, and the router calls guard, budget and prompts over gRPC. Same answers as embedded.
public sealed class SeparateServicesTests : IAsyncLifetime
{
    private readonly List<WebApplication> _hosts = [];
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "gateway-mesh-tests", Guid.NewGuid().ToString("N"));
    private FakeOpenAi _upstream = null!;
    private TestGateway _edge = null!;

    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        _upstream = await FakeOpenAi.StartNewAsync();
        var common = $$"""
            providers:
              openai: { kind: openai, base_url: "{{_upstream.Url}}v1" }
            models:
              gpt-4o: { targets: [{ provider: openai, model: gpt-4o }] }
            keys:
            {{TestGateway.Key()}}
            """;
        var guard = await StartAsync("guard", common, args => { var b = ServiceHost.Create(args, "guard", out var c); b.Services.AddGuard(c); var a = b.Build(); a.MapGuard(); return a; });
        var budget = await StartAsync("budget", common, args => { var b = ServiceHost.Create(args, "budget", out var c); b.Services.AddBudget(c); var a = b.Build(); a.MapBudget(); return a; });
        var prompts = await StartAsync("prompts", common, args => { var b = ServiceHost.Create(args, "prompts", out var c); b.Services.AddPrompts(c); var a = b.Build(); a.MapPrompts(); return a; });
        var router = await StartAsync("router", common + $$"""

            services:
              guard: {{guard}}
              budget: {{budget}}
              prompts: {{prompts}}
            """, args => RouterHost.Build(args));
        _edge = await TestGateway.StartAsync(common + $$"""

            services:
              router: {{router}}
            """);
    }

    // Starts one service host on fresh loopback ports and returns its gRPC address.
    private async Task<string> StartAsync(string name, string yaml, Func<string[], WebApplication> build)
    {
        var grpc = FreePort.Get();
        var http = FreePort.Get();
        var path = Path.Combine(_directory, name + ".yaml");
        await File.WriteAllTextAsync(path, $"""
            storage:
              state: sqlite://{_directory}/{name}-state.db
              traces: sqlite://{_directory}/{name}-traces.db
            {yaml}
            """);
        var app = build(["--config", path, "--grpc", $"127.0.0.1:{grpc}", "--http", $"127.0.0.1:{http}"]);
        await app.StartAsync();
        _hosts.Add(app);
        return $"http://127.0.0.1:{grpc}";
    }

    public async ValueTask DisposeAsync()
    {
        await _edge.DisposeAsync();
        foreach (var host in _hosts)
        {
            await host.StopAsync();
            await host.DisposeAsync();
        }
        await _upstream.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private ChatClient Chat(string key = TestGateway.DefaultKey)
        => new OpenAIClient(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(_edge.HttpBase, "/v1") }).GetChatClient("gpt-4o");

    [Fact]
    public async Task Chat_ThroughEdgeRouterAndServicesOverGrpc_Answers()
    {
        var result = await Chat().CompleteChatAsync([new UserChatMessage("across the mesh")], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("Echo: across the mesh", result.Value.Content[0].Text);
        var headers = result.GetRawResponse().Headers;
        Assert.True(headers.TryGetValue("x-gateway-provider", out var provider));
        Assert.Equal("openai", provider);
        Assert.True(headers.TryGetValue("x-request-id", out var requestId));
        Assert.False(string.IsNullOrEmpty(requestId));
    }

    [Fact]
    public async Task Stream_ThroughTheMesh_Answers()
    {
        _upstream.Replies.Enqueue(FakeReply.Say("streamed over two gRPC hops"));
        var text = new System.Text.StringBuilder();
        await foreach (var update in Chat().CompleteChatStreamingAsync([new UserChatMessage("go")], cancellationToken: TestContext.Current.CancellationToken))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }

        Assert.Equal("streamed over two gRPC hops", text.ToString());
    }

    [Fact]
    public async Task Chat_WrongKey_Is401AfterCrossingTheRouter()
    {
        var error = await Assert.ThrowsAsync<ClientResultException>(() => Chat("wrong-key-00000000000").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(401, error.Status);
        Assert.Equal(0, _upstream.CallCount);
    }

    [Fact]
    public async Task Chat_UnknownPrompt_TypedErrorTravelsBackFromThePromptsService()
    {
        using var http = new HttpClient { BaseAddress = _edge.HttpBase };
        http.DefaultRequestHeaders.Authorization = new("Bearer", TestGateway.DefaultKey);
        var response = await http.PostAsync("/v1/chat/completions", new StringContent(
            """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"prompt":{"id":"welcome","label":"production"}}"""),
            TestContext.Current.CancellationToken);

        Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("prompt_not_found", body.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("prompt.id", body.RootElement.GetProperty("error").GetProperty("param").GetString());
    }
}
