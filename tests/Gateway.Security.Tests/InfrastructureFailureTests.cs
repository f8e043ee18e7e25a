using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Gateway.Security.Tests;

// Infrastructure that is down is the gateway's problem, not the caller's: 503 in the route's shape, never a
// 401 that would make a client throw its (valid) credential away. The identity provider down on the LLM
// routes: Gateway.Functional.Tests OidcApiTokenTests.IdentityProviderDown_Is503NotA401; on /mcp:
// McpEdgeTests.Mcp_IdentityProviderDown_Is503NotA401; guard down: GuardEndToEndTests.GuardDown_FailClosed_Returns503AndSendsNothing;
// the budget counters down: RedisReplicaTests.Reserve_RedisUnreachable_FailsClosedWith503UnlessFailOpen.
public sealed class InfrastructureFailureTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task EdgeWhoseRouterIsUnreachable_Answers503InEachShape_Never401()
    {
        // A router address nothing listens on: the edge cannot even check the key.
        await using var gateway = await TestGateway.StartAsync($$"""
            services:
              router: "http://127.0.0.1:{{FreePort.Get()}}"
            keys:
            {{TestGateway.Key()}}
            """);
        using var http = new HttpClient { BaseAddress = gateway.HttpBase };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestGateway.DefaultKey);

        using var chat = await http.PostAsync("/v1/chat/completions", new StringContent(
            """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"), Ct);
        using var anthropic = new HttpRequestMessage(HttpMethod.Post, "/v1/messages")
        {
            Content = new StringContent("""{"model":"gpt-4o","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        anthropic.Headers.Add("anthropic-version", "2023-06-01");
        using var messages = await http.SendAsync(anthropic, Ct);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, chat.StatusCode);
        using (var error = JsonDocument.Parse(await chat.Content.ReadAsStringAsync(Ct)))
        {
            Assert.Equal("server_error", error.RootElement.GetProperty("error").GetProperty("type").GetString());
        }
        Assert.Equal(HttpStatusCode.ServiceUnavailable, messages.StatusCode);
        using (var error = JsonDocument.Parse(await messages.Content.ReadAsStringAsync(Ct)))
        {
            Assert.Equal("overloaded_error", error.RootElement.GetProperty("error").GetProperty("type").GetString());
        }
    }
}
