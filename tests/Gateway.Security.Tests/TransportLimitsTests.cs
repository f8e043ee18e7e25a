using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;
using Gateway.Testing.Fakes;
using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;

namespace Gateway.Security.Tests;

// Transport-level hostility on the HTTP edge: oversized and too many headers, slow-loris clients trickling
// headers or a body, and more concurrent streaming responses than the configured caps.
public sealed class TransportLimitsTests : IAsyncLifetime
{
    private const string OtherKey = "other-key-0123456789abcdef";
    private const int HeadersTimeoutSeconds = 2;

    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private FakeOpenAi _upstream = null!;
    private TestGateway _gateway = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _upstream = await FakeOpenAi.StartNewAsync();
        _gateway = await TestGateway.StartAsync($$"""
            providers:
              openai: { kind: openai, base_url: "{{_upstream.Url}}v1", api_key: sk-upstream-0123456789 }
            models:
              gpt-4o:
                targets: [{ provider: openai, model: gpt-4o }]
            keys:
            {{TestGateway.Key()}}
            {{TestGateway.Key("other", key: OtherKey)}}
            """,
            server: $"  limits: {{ max_request_header_bytes: 8192, max_request_headers: 40, request_headers_timeout_seconds: {HeadersTimeoutSeconds}, max_concurrent_streams: 3, max_concurrent_streams_per_key: 2 }}");
    }

    public async ValueTask DisposeAsync()
    {
        _release.TrySetResult();
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private HttpClient Http(string key = TestGateway.DefaultKey)
    {
        var http = new HttpClient { BaseAddress = _gateway.HttpBase };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    // Configured: 8192 bytes and 40 header lines. Kestrel's own ceiling is twice that (HeaderLimits).
    private const string Chat = """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""";

    private static HttpRequestMessage WithPadding(HttpMethod method, string path, string? body, int paddingBytes = 0, int extraHeaders = 0)
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }
        if (paddingBytes > 0)
        {
            request.Headers.Add("x-padding", new string('a', paddingBytes));
        }
        for (var i = 0; i < extraHeaders; i++)
        {
            request.Headers.Add($"x-h{i}", "v");
        }
        return request;
    }

    private static async Task<JsonElement> Assert431Async(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        return body.RootElement.Clone();
    }

    [Fact]
    public async Task OversizedHeader_OnTheOpenAiSurface_Is431InOpenAisShape_AndNothingReachesTheProvider()
    {
        using var http = Http();
        using var request = WithPadding(HttpMethod.Post, "/v1/chat/completions", Chat, paddingBytes: 10 * 1024);

        using var response = await http.SendAsync(request, Ct);

        var error = (await Assert431Async(response)).GetProperty("error");
        Assert.Equal("request_header_fields_too_large", error.GetProperty("code").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Contains("max_request_header_bytes", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.True(response.Headers.Contains("x-request-id"));
        Assert.Equal(0, _upstream.CallCount);
        // The connection and the gateway carry on.
        using var next = await http.PostAsync("/v1/chat/completions", new StringContent(Chat, Encoding.UTF8, "application/json"), Ct);
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task OversizedHeader_OnTheAnthropicSurface_Is431InAnthropicsShape()
    {
        using var http = Http();
        using var request = WithPadding(HttpMethod.Post, "/v1/messages", """{"model":"gpt-4o","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}""", paddingBytes: 10 * 1024);
        request.Headers.Add("anthropic-version", "2023-06-01");

        using var response = await http.SendAsync(request, Ct);

        var body = await Assert431Async(response);
        Assert.Equal("error", body.GetProperty("type").GetString());
        Assert.Equal("request_too_large", body.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal(response.Headers.GetValues("x-request-id").Single(), body.GetProperty("request_id").GetString());
        Assert.Equal(0, _upstream.CallCount);
    }

    [Fact]
    public async Task OversizedHeader_OnTheAdminApi_Is431InTheAdminShape_BeforeTheRouteRuns()
    {
        using var http = Http("test-admin-key-0123456789");
        // A budget that does not exist would be a 404: the 431 shows the route never ran.
        using var request = WithPadding(HttpMethod.Post, "/admin/v1/budgets/none/adjustments", """{"amount_usd": 5}""", paddingBytes: 10 * 1024);

        using var response = await http.SendAsync(request, Ct);

        var error = (await Assert431Async(response)).GetProperty("error");
        Assert.Equal("request_header_fields_too_large", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task OversizedHeader_OnTheMcpEndpoint_Is431AsAJsonRpcError()
    {
        using var http = Http();
        using var request = WithPadding(HttpMethod.Post, "/mcp", """{"jsonrpc":"2.0","id":1,"method":"ping"}""", paddingBytes: 10 * 1024);

        using var response = await http.SendAsync(request, Ct);

        var body = await Assert431Async(response);
        Assert.Equal("2.0", body.GetProperty("jsonrpc").GetString());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("id").ValueKind);
        Assert.Equal(-32000, body.GetProperty("error").GetProperty("code").GetInt32());
        Assert.Equal("request_header_fields_too_large", body.GetProperty("error").GetProperty("data").GetProperty("code").GetString());
    }

    [Fact]
    public async Task TooManyHeaders_Is431InTheRoutesShape()
    {
        using var http = Http();
        using var request = WithPadding(HttpMethod.Get, "/v1/models", body: null, extraHeaders: 60);

        using var response = await http.SendAsync(request, Ct);

        var error = (await Assert431Async(response)).GetProperty("error");
        Assert.Equal("request_header_fields_too_large", error.GetProperty("code").GetString());
        Assert.Contains("max_request_headers", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task HeadersPastKestrelsCeiling_StillGetTheBare431()
    {
        using var http = Http();
        using var big = WithPadding(HttpMethod.Post, "/v1/chat/completions", Chat, paddingBytes: 20 * 1024);
        using var many = WithPadding(HttpMethod.Get, "/v1/models", body: null, extraHeaders: 100);

        using var bigResponse = await http.SendAsync(big, Ct);
        using var manyResponse = await http.SendAsync(many, Ct);

        foreach (var response in new[] { bigResponse, manyResponse })
        {
            Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, response.StatusCode);
            Assert.Equal("", await response.Content.ReadAsStringAsync(Ct));
        }
        Assert.Equal(0, _upstream.CallCount);
    }

    [Fact]
    public async Task OversizedMetadata_OnTheGrpcPort_IsResourceExhaustedWithTheGoogleRpcStatus()
    {
        using var channel = GrpcChannel.ForAddress(_gateway.GrpcAddress);
        var client = new Inference.InferenceClient(channel);
        var metadata = new Metadata { { "authorization", "Bearer " + TestGateway.DefaultKey }, { "x-padding", new string('a', 10 * 1024) } };
        var request = new ChatRequest { Model = "gpt-4o", Messages = { new Message { Role = Role.User, Content = { new ContentPart { Text = "hi" } } } } };

        var error = await Assert.ThrowsAsync<RpcException>(() => client.ChatAsync(request, metadata, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        var info = error.GetRpcStatus()?.GetDetail<ErrorInfo>();
        Assert.Equal("request_header_fields_too_large", info?.Reason);
        Assert.Equal(0, _upstream.CallCount);
    }

    [Fact]
    public async Task SlowLoris_TricklingHeaders_DisconnectedWithinTheTimeout_WhileNormalRequestsAreServed()
    {
        // Twenty connections each sending one header line every 300 ms, never finishing the header block.
        var clock = Stopwatch.StartNew();
        var lorises = Enumerable.Range(0, 20).Select(_ => TrickleHeadersUntilClosedAsync()).ToList();

        using var http = Http();
        for (var i = 0; i < 5; i++)
        {
            using var models = await http.GetAsync("/v1/models", Ct);
            Assert.Equal(HttpStatusCode.OK, models.StatusCode);
        }

        var closedAfter = await Task.WhenAll(lorises).WaitAsync(TimeSpan.FromSeconds(20), Ct);
        // Kestrel checks the timeout on a one-second heartbeat.
        Assert.All(closedAfter, elapsed => Assert.InRange(elapsed.TotalSeconds, HeadersTimeoutSeconds - 0.5, HeadersTimeoutSeconds + 2.5));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(HeadersTimeoutSeconds + 5));
    }

    private async Task<TimeSpan> TrickleHeadersUntilClosedAsync()
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, _gateway.HttpBase.Port, Ct);
        var stream = client.GetStream();
        var clock = Stopwatch.StartNew();
        var closed = ReadUntilClosedAsync(stream);
        await stream.WriteAsync("GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n"u8.ToArray(), Ct);
        for (var i = 0; !closed.IsCompleted; i++)
        {
            try
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"x-slow-{i}: {i}\r\n"), Ct);
            }
            catch (IOException)
            {
                break;
            }
            await Task.WhenAny(closed, Task.Delay(300, Ct));
        }
        await closed;
        return clock.Elapsed;
    }

    private static async Task ReadUntilClosedAsync(NetworkStream stream)
    {
        var buffer = new byte[1024];
        try
        {
            while (await stream.ReadAsync(buffer, Ct) > 0)
            {
            }
        }
        catch (IOException)
        {
            // A reset counts as closed.
        }
    }

    [Fact]
    public async Task SlowBody_BelowTheMinimumRate_IsCutOffNot500()
    {
        await using var gateway = await TestGateway.StartAsync($$"""
            providers:
              openai: { kind: openai, base_url: "{{_upstream.Url}}v1", api_key: sk-upstream-0123456789 }
            models:
              gpt-4o:
                targets: [{ provider: openai, model: gpt-4o }]
            keys:
            {{TestGateway.Key()}}
            """,
            server: "  limits: { min_request_body_bytes_per_second: 100, min_request_body_grace_seconds: 1.5 }");
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, gateway.HttpBase.Port, Ct);
        var stream = client.GetStream();
        var clock = Stopwatch.StartNew();
        var answer = ReadAllAsync(stream);
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TestGateway.DefaultKey}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{"), Ct);
        while (!answer.IsCompleted && clock.Elapsed < TimeSpan.FromSeconds(15))
        {
            try
            {
                await stream.WriteAsync(" "u8.ToArray(), Ct);
            }
            catch (IOException)
            {
                break;
            }
            await Task.WhenAny(answer, Task.Delay(200, Ct));
        }

        var text = await answer.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"still connected after {clock.Elapsed}");
        // A 400 in OpenAI's shape when the answer still gets through; never a 500.
        Assert.True(text.Length == 0 || (text.StartsWith("HTTP/1.1 400", StringComparison.Ordinal) && text.Contains("\"request_body_timeout\"", StringComparison.Ordinal)), text);
        Assert.Equal(0, _upstream.CallCount);
    }

    private static async Task<string> ReadAllAsync(NetworkStream stream)
    {
        var received = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, Ct)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (IOException)
        {
            // Reset after the answer.
        }
        return Encoding.UTF8.GetString(received.ToArray());
    }

    [Fact]
    public async Task ConcurrentStreams_OverThePerKeyCap_429InEachSurfaceShape_OtherKeysServed_FreedWhenAStreamEnds()
    {
        for (var i = 0; i < 3; i++)
        {
            _upstream.Replies.Enqueue(new FakeReply { Text = "a held stream", StallAfterChunks = 1, StallGate = _release.Task });
        }
        using var http = Http();
        using var first = await OpenStreamAsync(http);
        using var second = await OpenStreamAsync(http);

        // The third stream of the same key: refused in OpenAI's shape...
        using var third = await OpenStreamAsync(http);
        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        Assert.Equal("1", third.Headers.RetryAfter?.ToString());
        using (var error = JsonDocument.Parse(await third.Content.ReadAsStringAsync(Ct)))
        {
            Assert.Equal("concurrent_streams_exceeded", error.RootElement.GetProperty("error").GetProperty("code").GetString());
            Assert.Equal("rate_limit_error", error.RootElement.GetProperty("error").GetProperty("type").GetString());
        }
        // ...and in Anthropic's on /v1/messages.
        using var anthropic = new HttpRequestMessage(HttpMethod.Post, "/v1/messages")
        {
            Content = new StringContent("""{"model":"gpt-4o","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        anthropic.Headers.Add("anthropic-version", "2023-06-01");
        using (var messages = await http.SendAsync(anthropic, Ct))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, messages.StatusCode);
            using var error = JsonDocument.Parse(await messages.Content.ReadAsStringAsync(Ct));
            Assert.Equal("error", error.RootElement.GetProperty("type").GetString());
            Assert.Equal("rate_limit_error", error.RootElement.GetProperty("error").GetProperty("type").GetString());
        }

        // Another key still streams (global cap 3), then the global cap refuses a fourth stream.
        using var other = Http(OtherKey);
        using var otherStream = await OpenStreamAsync(other);
        Assert.Equal(HttpStatusCode.OK, otherStream.StatusCode);
        using (var overGlobal = await OpenStreamAsync(other))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, overGlobal.StatusCode);
        }
        // Non-streaming requests are not counted.
        using (var plain = await http.PostAsync("/v1/chat/completions", new StringContent(
            """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        }

        // Streams finish: their slots are free again.
        _release.TrySetResult();
        foreach (var held in new[] { first, second, otherStream })
        {
            Assert.EndsWith("data: [DONE]", (await ReadToEndAsync(held)).TrimEnd(), StringComparison.Ordinal);
        }
        using var again = await OpenStreamAsync(http);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Contains("[DONE]", await again.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    private static async Task<string> ReadToEndAsync(HttpResponseMessage response)
    {
        var text = new StringBuilder();
        try
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Ct));
            while (await reader.ReadLineAsync(Ct) is { } line)
            {
                text.AppendLine(line);
            }
        }
        catch (IOException e)
        {
            Assert.Fail($"The stream was cut off ({e.Message}) after:\n{text}");
        }
        return text.ToString();
    }

    private static async Task<HttpResponseMessage> OpenStreamAsync(HttpClient http)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
    }
}
