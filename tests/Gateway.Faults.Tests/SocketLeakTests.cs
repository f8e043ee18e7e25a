using System.Net.Http.Headers;
using System.Text;
using Gateway.Testing.Fakes;

namespace Gateway.Faults.Tests;

// The soak's socket check as a test that can fail: hundreds of requests whose first attempt meets a provider
// resetting the connection mid-body, each served by the fallback, leave the gateway process with no more
// sockets than it had after warming up. A leak of one socket per failed attempt shows as hundreds.
public sealed class SocketLeakTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ManyRequestsAgainstAResettingProvider_NoSocketIsLeft()
    {
        await using var broken = ChaosUpstream.Start(UpstreamFault.ResetMidBody);
        await using var good = await FakeOpenAi.StartNewAsync();
        var directory = Path.Combine(Path.GetTempPath(), "gateway-socket-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        // No circuit breaker: every request tries the broken provider first.
        await using var gateway = new GatewayProcess(directory, $"sqlite://{directory}/state.db", $$"""
            providers:
              broken: { kind: openai, base_url: "{{broken.Url}}v1" }
              good: { kind: openai, base_url: "{{good.Url}}v1" }
            models:
              main: { targets: [{ provider: broken, model: m1 }], fallbacks: [spare] }
              spare: { targets: [{ provider: good, model: m2 }] }
            routing:
              policies:
                default: { circuit_breaker: { enabled: false } }
            keys:
            {{TestGateway.Key()}}
            """);
        await gateway.StartAsync(Ct);

        await SendAsync(gateway, 50);
        var warm = Sockets(gateway.Pid);
        await SendAsync(gateway, 500);
        var after = Sockets(gateway.Pid);

        Assert.Equal(550, broken.Connections);
        Assert.True(after <= warm + 4, $"sockets {warm} after warm-up, {after} after 500 more requests");
    }

    private static async Task SendAsync(GatewayProcess gateway, int count)
    {
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = Ct }, async (i, ct) =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
            {
                Content = new StringContent("""{"model":"main","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestGateway.DefaultKey);
            using var response = await gateway.Http.SendAsync(request, ct);
            Assert.Equal(200, (int)response.StatusCode);
        });
    }

    private static int Sockets(int pid) => Directory.EnumerateFiles($"/proc/{pid}/fd").Count(fd =>
    {
        try
        {
            return new FileInfo(fd).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true;
        }
        catch (IOException)
        {
            return false;
        }
    });
}
