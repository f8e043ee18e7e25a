using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using Gateway.Testing;
using Gateway.Testing.Fakes;

namespace Gateway.Benchmarks;

// The extra latency one failover adds: the embedded gateway over loopback fakes, `direct` served by a healthy
// deployment, `failover` whose primary answers 503 first and whose fallback then serves. Both are measured in
// the same process, interleaved, after a warm-up; the difference of the medians is the cost of one failover
// (an extra upstream round trip to a fast-failing fake plus the gateway's bookkeeping).
public static class FailoverLatency
{
    private const string Overloaded = """{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}""";

    public static async Task RunAsync(int requests)
    {
        await using var primary = new FakeOpenAi { Record = false };
        await using var backup = new FakeOpenAi { Record = false };
        await primary.StartAsync();
        await backup.StartAsync();
        await using var gateway = await TestGateway.StartAsync($$"""
            providers:
              primary: { kind: openai, base_url: "{{primary.Url}}v1" }
              backup: { kind: openai, base_url: "{{backup.Url}}v1" }
            models:
              direct:
                targets: [{ provider: backup, model: m2 }]
              failover:
                targets: [{ provider: primary, model: m1 }]
                fallbacks: [direct]
                policy: measure
            routing:
              policies:
                # No breaker: every request must really try the failing primary first.
                measure: { circuit_breaker: { enabled: false } }
            keys:
            {{TestGateway.Key()}}
            """);
        using var http = new HttpClient { BaseAddress = gateway.HttpBase };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestGateway.DefaultKey);

        async Task<double> OnceAsync(string model)
        {
            if (model == "failover")
            {
                primary.Replies.Enqueue(FakeReply.Error(503, Overloaded));
            }
            using var content = new StringContent($$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json");
            var start = Stopwatch.GetTimestamp();
            using var response = await http.PostAsync("/v1/chat/completions", content);
            await response.Content.ReadAsByteArrayAsync();
            var elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            var attempts = response.Headers.GetValues("x-gateway-attempts").Single();
            if (!response.IsSuccessStatusCode || attempts != (model == "failover" ? "2" : "1"))
            {
                throw new InvalidOperationException($"{model}: status {(int)response.StatusCode}, attempts {attempts}");
            }
            return elapsed;
        }

        for (var i = 0; i < Math.Max(50, requests / 10); i++)
        {
            await OnceAsync("direct");
            await OnceAsync("failover");
        }
        var direct = new List<double>(requests);
        var failover = new List<double>(requests);
        for (var i = 0; i < requests; i++)
        {
            direct.Add(await OnceAsync("direct"));
            failover.Add(await OnceAsync("failover"));
        }
        direct.Sort();
        failover.Sort();
        static double P(List<double> sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
        Console.WriteLine($"requests per case: {requests} (sequential, after warm-up)");
        Console.WriteLine($"direct   p50 {P(direct, 0.5):0.000} ms  p95 {P(direct, 0.95):0.000} ms  mean {direct.Average():0.000} ms");
        Console.WriteLine($"failover p50 {P(failover, 0.5):0.000} ms  p95 {P(failover, 0.95):0.000} ms  mean {failover.Average():0.000} ms");
        Console.WriteLine($"extra latency of one failover (503 -> fallback): p50 {P(failover, 0.5) - P(direct, 0.5):0.000} ms, mean {failover.Average() - direct.Average():0.000} ms");
    }
}
