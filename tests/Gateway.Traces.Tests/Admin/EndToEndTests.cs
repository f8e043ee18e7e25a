using System.ClientModel;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using Gateway.Testing.Fakes;
using Gateway.Traces.Storage;
using Gateway.Traces.Tests.ClickHouse;
using OpenAI;
using OpenAI.Chat;

namespace Gateway.Traces.Tests.Admin;

public sealed class EndToEndTests(ClickHouseFixture clickHouse)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static ChatClient Chat(TestGateway gateway, string key)
        => new OpenAIClient(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(gateway.HttpBase, "/v1") }).GetChatClient("gpt-4o");

    [Fact]
    public async Task ChatRequest_WithClickHouseStore_InClickHouseAndTheAdminApiWithinSeconds()
    {
        var database = clickHouse.NewDatabase();
        await using var upstream = await FakeOpenAi.StartNewAsync();
        await using var gateway = await TestGateway.StartAsync(AdminTracesTests.GatewayYaml(upstream), traces: clickHouse.Require().Uri(database));
        var started = Stopwatch.StartNew();

        var id = await AdminTracesTests.ChatAndWaitAsync(gateway, Chat(gateway, "full-key-0123456789abcdef"), "Bonjour", new Dictionary<string, string> { ["ticket"] = "CH-1" });
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), $"took {started.Elapsed}");

        await using var reader = ClickHouseTraceStore.Open(clickHouse.Require().Uri(database), 30, TimeProvider.System);
        var row = Assert.Single(await reader.RawAsync($$"""
            SELECT team, project, user, served_model, provider, deployment, status, input_tokens, output_tokens, cost_usd, total_ms,
                   length(attempts) AS attempts, capture, metadata['ticket'] AS ticket, request_body != '' AS has_body
            FROM {database}.traces WHERE request_id = '{{id}}'
            """, Ct));
        Assert.Equal("research", row["team"]);
        Assert.Equal("lab", row["project"]);
        Assert.Equal("erin", row["user"]);
        Assert.Equal("gpt-4o", row["served_model"]);
        Assert.Equal("openai", row["provider"]);
        Assert.Equal("openai/gpt-4o-2024-08-06", row["deployment"]);
        Assert.Equal("ok", row["status"]);
        Assert.Equal(11L, Convert.ToInt64(row["input_tokens"], CultureInfo.InvariantCulture));
        Assert.Equal(7L, Convert.ToInt64(row["output_tokens"], CultureInfo.InvariantCulture));
        Assert.True(Convert.ToDouble(row["total_ms"], CultureInfo.InvariantCulture) > 0);
        Assert.Equal(1L, Convert.ToInt64(row["attempts"], CultureInfo.InvariantCulture));
        Assert.Equal("full", row["capture"]);
        Assert.Equal("CH-1", row["ticket"]);
        Assert.Equal(1L, Convert.ToInt64(row["has_body"], CultureInfo.InvariantCulture));
        var spend = Assert.Single(await reader.RawAsync("SELECT sum(requests) AS n, sum(cost_usd) AS cost FROM {database}.spend_hourly WHERE team = 'research'", Ct));
        Assert.Equal(1L, Convert.ToInt64(spend["n"], CultureInfo.InvariantCulture));

        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway.HttpBase, $"/admin/v1/traces?team=research&user=erin"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminTracesTests.AdminKey);
        using var response = await http.SendAsync(request, Ct);
        Assert.Contains(id, await response.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    // Keys (gateway, provider, admin, a refused one) and PII in prompts never reach logs, spans or the stored trace.
    [Fact]
    public async Task Requests_KeysAndPromptText_NeverInLogsSpansOrTraces()
    {
        const string email = "jane.secret.doe@example.com";
        const string cloudKey = "AKIAZZZSECRET0123456";
        const string refusedKey = "sk-refused-secret-key-0123456789";
        var spans = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Gateway",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                lock (spans)
                {
                    spans.Add(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        var console = new StringWriter();
        var original = Console.Out;
        Console.SetOut(TextWriter.Synchronized(console));
        string trace;
        try
        {
            await using var upstream = await FakeOpenAi.StartNewAsync();
            await using var gateway = await TestGateway.StartAsync(AdminTracesTests.GatewayYaml(upstream));
            var id = await AdminTracesTests.ChatAndWaitAsync(gateway, Chat(gateway, TestGateway.DefaultKey), $"My email is {email} and my key is {cloudKey}");
            await Assert.ThrowsAsync<ClientResultException>(() => Chat(gateway, refusedKey).CompleteChatAsync([new UserChatMessage($"again {email}")], cancellationToken: Ct));
            using var http = new HttpClient();
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway.HttpBase, $"/admin/v1/traces/{id}"));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminTracesTests.AdminKey);
            using var response = await http.SendAsync(request, Ct);
            trace = await response.Content.ReadAsStringAsync(Ct);
            Assert.Contains(id, trace, StringComparison.Ordinal);
        }
        finally
        {
            Console.SetOut(original);
        }

        var logs = console.ToString();
        string spanText;
        lock (spans)
        {
            Assert.Contains(spans, s => s.OperationName == "chat" && s.GetTagItem("gen_ai.request.model") as string == "gpt-4o");
            Assert.Contains(spans, s => s.Kind == ActivityKind.Client && s.GetTagItem("gen_ai.provider.name") as string == "openai");
            spanText = string.Join("\n", spans.Select(s => s.DisplayName + " " + string.Join(" ", s.TagObjects.Select(t => $"{t.Key}={t.Value}"))));
        }
        Assert.NotEmpty(logs);
        foreach (var secret in new[] { TestGateway.DefaultKey, refusedKey, "sk-upstream-secret-0123456789", AdminTracesTests.AdminKey, email, cloudKey, "My email is" })
        {
            Assert.DoesNotContain(secret, logs, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, spanText, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, trace, StringComparison.Ordinal);
        }
    }
}
