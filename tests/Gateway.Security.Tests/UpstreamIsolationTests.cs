using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Gateway.Testing.Fakes;

namespace Gateway.Security.Tests;

// Nothing a client sends chooses where the gateway connects or which headers reach a provider: not a header
// (x-forwarded-host, Forwarded, provider headers), not a body field (base_url, extra_headers, user, metadata
// with CR/LF), not a model name (URLs, `..`, provider prefixes). The fakes record what arrived.
public sealed class UpstreamIsolationTests : IAsyncLifetime
{
    private const string Marker = "client-marker-7f3a";
    private const string AwsKeyId = "AKIAIOSFODNN7EXAMPLE";
    private const string AwsSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    private FakeOpenAi _openai = null!;
    private FakeOpenAi _azure = null!;
    private FakeAnthropic _anthropic = null!;
    private FakeGemini _gemini = null!;
    private FakeBedrock _bedrock = null!;
    // A server the client would like the gateway to call; it must never hear from it.
    private FakeOpenAi _evil = null!;
    private TestGateway _gateway = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private IEnumerable<(string Model, FakeUpstream Fake)> Routes =>
        [("gpt-4o", _openai), ("azure-gpt", _azure), ("claude", _anthropic), ("gemini", _gemini), ("bedrock-claude", _bedrock)];

    public async ValueTask InitializeAsync()
    {
        _openai = await FakeOpenAi.StartNewAsync();
        _azure = await FakeOpenAi.StartNewAsync();
        _anthropic = await FakeAnthropic.StartNewAsync("sk-ant-upstream-0123456789");
        _gemini = await FakeGemini.StartNewAsync("gemini-upstream-0123456789");
        _bedrock = await FakeBedrock.StartNewAsync(AwsKeyId, AwsSecret);
        _evil = await FakeOpenAi.StartNewAsync();
        _gateway = await TestGateway.StartAsync($$"""
            providers:
              openai: { kind: openai, base_url: "{{_openai.Url}}v1", api_key: sk-upstream-0123456789, headers: { OpenAI-Organization: org-configured } }
              azure: { kind: azure-openai, base_url: "{{_azure.Url}}", api_key: azure-upstream-0123456789, api_version: "2024-10-21" }
              anthropic: { kind: anthropic, base_url: "{{_anthropic.Url}}", api_key: sk-ant-upstream-0123456789 }
              gemini: { kind: gemini, base_url: "{{_gemini.Url}}", api_key: gemini-upstream-0123456789 }
              bedrock:
                kind: bedrock
                region: us-east-1
                base_url: "{{_bedrock.Url}}"
                aws: { access_key_id: {{AwsKeyId}}, secret_access_key: "{{AwsSecret}}" }
            models:
              gpt-4o: { targets: [{ provider: openai, model: gpt-4o }] }
              azure-gpt: { targets: [{ provider: azure, model: gpt-4o-prod }] }
              claude: { targets: [{ provider: anthropic, model: claude-sonnet-4-20250514 }] }
              gemini: { targets: [{ provider: gemini, model: gemini-2.5-flash }] }
              bedrock-claude: { targets: [{ provider: bedrock, model: "anthropic.claude-3-5-haiku-20241022-v1:0" }] }
            keys:
            {{TestGateway.Key()}}
            """);
    }

    public async ValueTask DisposeAsync()
    {
        await _gateway.DisposeAsync();
        foreach (var fake in new FakeUpstream[] { _openai, _azure, _anthropic, _gemini, _bedrock, _evil })
        {
            await fake.DisposeAsync();
        }
    }

    private HttpClient Http()
    {
        var http = new HttpClient { BaseAddress = _gateway.HttpBase };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestGateway.DefaultKey);
        return http;
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private async Task<RecordedRequest> ChatAsync(string model, FakeUpstream fake, Action<HttpRequestMessage>? decorate = null, string extraFields = "")
    {
        using var http = Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = Json($$"""{"model":"{{model}}","max_tokens":20{{extraFields}},"messages":[{"role":"user","content":"hello"}]}"""),
        };
        decorate?.Invoke(request);
        var before = fake.CallCount;
        using var response = await http.SendAsync(request, Ct);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal(before + 1, fake.CallCount);
        return fake.LastRequest;
    }

    [Fact]
    public async Task ClientHeaders_NeverReachAnyProvider_TheHeaderSetIsTheGatewaysOwn()
    {
        foreach (var (model, fake) in Routes)
        {
            var baseline = await ChatAsync(model, fake);
            var hostile = await ChatAsync(model, fake, request =>
            {
                request.Headers.TryAddWithoutValidation("X-Forwarded-Host", $"{_evil.Url.Authority}");
                request.Headers.TryAddWithoutValidation("X-Forwarded-Proto", "http");
                request.Headers.TryAddWithoutValidation("X-Forwarded-For", "203.0.113.7");
                request.Headers.TryAddWithoutValidation("Forwarded", $"host={_evil.Url.Authority};proto=http");
                request.Headers.TryAddWithoutValidation("X-Original-URL", "/admin");
                request.Headers.TryAddWithoutValidation("X-Rewrite-URL", "/admin");
                request.Headers.TryAddWithoutValidation("X-HTTP-Method-Override", "DELETE");
                request.Headers.TryAddWithoutValidation("OpenAI-Organization", "org-" + Marker);
                request.Headers.TryAddWithoutValidation("OpenAI-Project", Marker);
                request.Headers.TryAddWithoutValidation("anthropic-version", "2099-01-01");
                request.Headers.TryAddWithoutValidation("anthropic-beta", Marker);
                request.Headers.TryAddWithoutValidation("x-api-key", Marker);
                request.Headers.TryAddWithoutValidation("x-goog-api-key", Marker);
                request.Headers.TryAddWithoutValidation("api-key", Marker);
                request.Headers.TryAddWithoutValidation("Cookie", "session=" + Marker);
                request.Headers.TryAddWithoutValidation("x-request-id", "req" + Marker.Replace("-", "", StringComparison.Ordinal));
                request.Headers.TryAddWithoutValidation("x-" + Marker, Marker);
            });

            Assert.Equal(baseline.PathAndQuery, hostile.PathAndQuery);
            Assert.Equal(baseline.Headers["host"], hostile.Headers["host"]);
            Assert.Equal(baseline.Headers.Keys.Order(), hostile.Headers.Keys.Order());
            Assert.DoesNotContain(hostile.Headers, h => h.Value.Contains(Marker, StringComparison.Ordinal) || h.Value.Contains(_evil.Url.Authority, StringComparison.Ordinal));
            Assert.DoesNotContain(Marker, hostile.Body, StringComparison.Ordinal);
        }
        // Provider headers come from configuration only.
        Assert.Equal("org-configured", _openai.LastRequest.Headers["openai-organization"]);
        Assert.Equal(0, _evil.CallCount);
    }

    [Fact]
    public async Task BodyFields_CannotChooseTheUpstreamOrAddHeaders_CrLfStaysEscapedInTheBody()
    {
        foreach (var (model, fake) in Routes)
        {
            var baseline = await ChatAsync(model, fake);
            var evil = _evil.Url.ToString();
            var hostile = await ChatAsync(model, fake, extraFields: $$"""
                ,"base_url":"{{evil}}v1","api_base":"{{evil}}","baseURL":"{{evil}}","endpoint":"{{evil}}",
                "extra_headers":{"x-injected":"1","Host":"{{_evil.Url.Authority}}"},"headers":{"x-injected":"1"},
                "user":"alice\r\nx-injected: 1","metadata":{"note":"a\r\nx-injected: 1\r\n\r\nGET / HTTP/1.1"}
                """.ReplaceLineEndings(""));

            Assert.Equal(baseline.PathAndQuery, hostile.PathAndQuery);
            Assert.Equal(baseline.Headers["host"], hostile.Headers["host"]);
            Assert.Equal(baseline.Headers.Keys.Order(), hostile.Headers.Keys.Order());
            Assert.False(hostile.Headers.ContainsKey("x-injected"));
            // Whatever of the body travels, it travels as JSON: a CR/LF is an escape sequence, never a raw byte.
            Assert.DoesNotContain('\r', hostile.Body);
            using var body = JsonDocument.Parse(hostile.Body);
        }
        Assert.Equal(0, _evil.CallCount);
    }

    [Theory]
    [InlineData("http://127.0.0.1:1/v1")]
    [InlineData("https://evil.example/v1/chat/completions")]
    [InlineData("//evil.example/x")]
    [InlineData("../../admin/v1/traces")]
    [InlineData("gpt-4o/../../v1/embeddings")]
    [InlineData("openai/gpt-4o")]
    [InlineData("azure/gpt-4o-prod")]
    [InlineData("azure-gpt/../../../deployments/other")]
    [InlineData("bedrock-claude/../../model/other")]
    [InlineData("..%2F..%2Fadmin")]
    [InlineData("gpt-4o?api-version=1")]
    [InlineData("gpt-4o#fragment")]
    [InlineData("gpt-4o\r\nHost: evil.example")]
    public async Task ModelNames_ThatLookLikeUrlsOrPaths_AreUnknownModels_AndNothingIsCalled(string model)
    {
        var before = Routes.Sum(r => r.Fake.CallCount);
        using var http = Http();
        var body = JsonSerializer.Serialize(new { model, messages = new[] { new { role = "user", content = "hi" } } });

        using var chat = await http.PostAsync("/v1/chat/completions", Json(body), Ct);
        using var anthropic = new HttpRequestMessage(HttpMethod.Post, "/v1/messages")
        {
            Content = Json(body.Replace("\"messages\"", "\"max_tokens\":10,\"messages\"", StringComparison.Ordinal)),
        };
        anthropic.Headers.Add("anthropic-version", "2023-06-01");
        using var messages = await http.SendAsync(anthropic, Ct);

        // A name with control characters is refused as malformed before any lookup; any other is unknown.
        var malformed = model.Any(char.IsControl);
        Assert.Equal(malformed ? HttpStatusCode.BadRequest : HttpStatusCode.NotFound, chat.StatusCode);
        using (var error = JsonDocument.Parse(await chat.Content.ReadAsStringAsync(Ct)))
        {
            Assert.Equal(malformed ? "invalid_value" : "model_not_found", error.RootElement.GetProperty("error").GetProperty("code").GetString());
        }
        Assert.Equal(malformed ? HttpStatusCode.BadRequest : HttpStatusCode.NotFound, messages.StatusCode);
        using (var error = JsonDocument.Parse(await messages.Content.ReadAsStringAsync(Ct)))
        {
            Assert.Equal(malformed ? "invalid_request_error" : "not_found_error", error.RootElement.GetProperty("error").GetProperty("type").GetString());
        }
        Assert.Equal(before, Routes.Sum(r => r.Fake.CallCount));
        Assert.Equal(0, _evil.CallCount);
    }

    [Theory]
    // A bare CR inside a header value, and an obsolete line fold: both are ways to smuggle a second header.
    [InlineData("x-request-id: abc\rx-injected: 1\r\n")]
    [InlineData("x-request-id: abc\r\n x-injected: 1\r\n")]
    public async Task RawHeaderSmuggling_IsRefusedWith400_BeforeAnyProviderCall(string headerLines)
    {
        var before = Routes.Sum(r => r.Fake.CallCount);

        var status = await RawChatAsync(headerLines);

        Assert.StartsWith("HTTP/1.1 400", status, StringComparison.Ordinal);
        Assert.Equal(before, Routes.Sum(r => r.Fake.CallCount));
    }

    // Kestrel reads a bare LF as a line end: the client has simply sent one more header, and that header,
    // like every client header, stays at the gateway.
    [Fact]
    public async Task BareLineFeedInAHeader_EndsTheLine_AndTheExtraHeaderStaysAtTheGateway()
    {
        var before = _openai.CallCount;

        var status = await RawChatAsync("anthropic-version: 2023-06-01\nx-injected: 1\r\n");

        Assert.StartsWith("HTTP/1.1 200", status, StringComparison.Ordinal);
        Assert.Equal(before + 1, _openai.CallCount);
        Assert.False(_openai.LastRequest.Headers.ContainsKey("x-injected"));
        Assert.False(_openai.LastRequest.Headers.ContainsKey("anthropic-version"));
    }

    private async Task<string?> RawChatAsync(string headerLines)
    {
        const string body = """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""";
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, _gateway.HttpBase.Port, Ct);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TestGateway.DefaultKey}\r\n{headerLines}Content-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}"), Ct);
        using var reader = new StreamReader(stream);
        return await reader.ReadLineAsync(Ct);
    }

    [Theory]
    [InlineData("abc%0d%0aSet-Cookie:%20a=b")]
    [InlineData("<script>alert(1)</script>")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public async Task ProposedRequestId_ThatIsNotPlain_IsReplaced(string proposed)
    {
        using var http = Http();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.TryAddWithoutValidation("x-request-id", proposed);

        using var response = await http.SendAsync(request, Ct);

        var assigned = Assert.Single(response.Headers.GetValues("x-request-id"));
        Assert.NotEqual(proposed, assigned);
        Assert.Matches("^[0-9a-f]{32}$", assigned);
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }
}
