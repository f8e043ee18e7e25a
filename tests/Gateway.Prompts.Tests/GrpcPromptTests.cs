using System.Text.Json;
using Gateway.Contracts.Inference.V1;
using Grpc.Core;
using Grpc.Net.Client;

namespace Gateway.Prompts.Tests;

// gateway.inference.v1.Inference/Chat over the gateway's gRPC port with a prompt reference: the same rendering,
// parameters and version reporting as the REST route.
public sealed class GrpcPromptTests : IAsyncLifetime
{
    private PromptGateway _g = null!;

    public async ValueTask InitializeAsync() => _g = await PromptGateway.StartAsync();

    public async ValueTask DisposeAsync() => await _g.DisposeAsync();

    [Fact]
    public async Task Chat_WithAPromptReference_RendersTheLabelledVersionAndReportsIt()
    {
        await _g.CreateVersionAsync("support", """
            {"messages":[{"role":"system","content":"You are the {{product}} assistant."}],"variables":[{"name":"product"}],"temperature":0.1}
            """);
        await _g.CreateVersionAsync("support", """
            {"messages":[{"role":"system","content":"You are the {{product}} expert, in {{language}}."}],
             "variables":[{"name":"product"},{"name":"language","default":"English"}],"temperature":0.7}
            """);
        await _g.SetLabelAsync("support", "production", 2);
        using var channel = GrpcChannel.ForAddress(_g.Gateway.GrpcAddress);
        var request = new ChatRequest
        {
            Model = "gpt-4o",
            Messages = { new Message { Role = Role.User, Content = { new ContentPart { Text = "How do I start?" } } } },
            Prompt = new PromptReference { Id = "support", Label = "production", VariablesJson = """{"product":"Gateway"}""" },
        };

        var response = await new Inference.InferenceClient(channel).ChatAsync(request,
            new Metadata { { "authorization", "Bearer " + TestGateway.DefaultKey } }, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("Echo: How do I start?", response.Choices[0].Message.Content[0].Text);
        Assert.Equal("support", response.Served.PromptName);
        Assert.Equal(2, response.Served.PromptVersion);
        Assert.Equal("production", response.Served.PromptLabel);
        using var sent = JsonDocument.Parse(_g.Upstream.LastRequest.Body);
        var messages = sent.RootElement.GetProperty("messages");
        Assert.Equal("You are the Gateway expert, in English.", messages[0].GetProperty("content").GetString());
        Assert.Equal("How do I start?", messages[1].GetProperty("content").GetString());
        Assert.Equal(0.7, sent.RootElement.GetProperty("temperature").GetDouble(), 9);
    }

    [Fact]
    public async Task Chat_WithAMissingVariable_IsInvalidArgumentNamingIt()
    {
        await _g.CreateVersionAsync("support", """
            {"messages":[{"role":"system","content":"You are the {{product}} assistant."}],"variables":[{"name":"product"}]}
            """);
        using var channel = GrpcChannel.ForAddress(_g.Gateway.GrpcAddress);
        var request = new ChatRequest
        {
            Model = "gpt-4o",
            Messages = { new Message { Role = Role.User, Content = { new ContentPart { Text = "hi" } } } },
            Prompt = new PromptReference { Id = "support" },
        };

        var error = await Assert.ThrowsAsync<RpcException>(() => new Inference.InferenceClient(channel).ChatAsync(request,
            new Metadata { { "authorization", "Bearer " + TestGateway.DefaultKey } }, cancellationToken: TestContext.Current.CancellationToken).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("product", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0, _g.Upstream.CallCount);
    }
}
