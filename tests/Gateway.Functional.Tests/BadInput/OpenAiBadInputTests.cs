using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Gateway.Testing.Fakes;

namespace Gateway.Functional.Tests.BadInput;

// Every way a client can send a broken request to the OpenAI routes: a 4xx in OpenAI's error shape
// (message, type, param, code all present), no call upstream, and the gateway keeps serving.
public sealed class OpenAiBadInputTests : IAsyncLifetime
{
    private const int BodyLimit = 64 * 1024;
    private FakeOpenAi _upstream = null!;
    private TestGateway _gateway = null!;
    private HttpClient _http = null!;

    public async ValueTask InitializeAsync()
    {
        _upstream = await FakeOpenAi.StartNewAsync();
        _gateway = await TestGateway.StartAsync($$"""
            providers:
              openai: { kind: openai, base_url: "{{_upstream.Url}}v1" }
            models:
              gpt-4o:
                targets: [{ provider: openai, model: gpt-4o }]
              text-embedding-3-small:
                targets: [{ provider: openai, model: text-embedding-3-small }]
            keys:
            {{TestGateway.Key()}}
            """, bodyLimit: BodyLimit);
        _http = new HttpClient { BaseAddress = _gateway.HttpBase };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestGateway.DefaultKey);
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    public static TheoryData<string, string, string?, string> ChatCases => new()
    {
        // body, expected code, expected param, a word the message must contain
        { """{"model":"gpt-4o","messages":[""", "invalid_json", null, "JSON" },
        { """{"model": gpt-4o}""", "invalid_json", null, "JSON" },
        { "[1,2,3]", "invalid_type", "body", "object" },
        { "\"just a string\"", "invalid_type", "body", "object" },
        { """{"messages":[{"role":"user","content":"hi"}]}""", "missing_required_parameter", "model", "model" },
        { """{"model":5,"messages":[{"role":"user","content":"hi"}]}""", "invalid_type", "model", "string" },
        { """{"model":"gpt-4o"}""", "missing_required_parameter", "messages", "messages" },
        { """{"model":"gpt-4o","messages":"hi"}""", "invalid_type", "messages", "array" },
        { """{"model":"gpt-4o","messages":[]}""", "empty_array", "messages", "at least one" },
        { """{"model":"gpt-4o","messages":[{"role":"wizard","content":"hi"}]}""", "invalid_value", "messages[0].role", "wizard" },
        { """{"model":"gpt-4o","messages":[{"role":"user","content":5}]}""", "invalid_type", "messages[0].content", "array" },
        { """{"model":"gpt-4o","messages":[{"role":"user"}]}""", "missing_required_parameter", "messages[0].content", "content" },
        { """{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"video","url":"x"}]}]}""", "invalid_value", "messages[0].content[0].type", "video" },
        { """{"model":"gpt-4o","messages":[{"role":"tool","content":"42"}]}""", "missing_required_parameter", "messages[0].tool_call_id", "tool_call_id" },
        { """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}""", "invalid_type", "temperature", "number" },
        { """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":7}""", "invalid_value", "temperature", "range" },
        { """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"max_tokens":-1}""", "invalid_value", "max_tokens", "range" },
        { """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"max_tokens":1e400}""", "invalid_type", "max_tokens", "integer" },
        { """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"max_tokens":99999999999999999999}""", "invalid_type", "max_tokens", "integer" },
        { """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":"yes"}""", "invalid_type", "stream", "boolean" },
        { """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"tools":{}}""", "invalid_type", "tools", "array" },
        { """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"bad name!"}}]}""", "invalid_value", "tools[0].function.name", "letters" },
        { """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"tool_choice":"sometimes"}""", "invalid_value", "tool_choice", "sometimes" },
        { """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"xml"}}""", "invalid_value", "response_format.type", "xml" },
        { """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stop":["a","b","c","d","e"]}""", "invalid_value", "stop", "at most 4" },
        { """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"metadata":{"k":1}}""", "invalid_type", "metadata.k", "string" },
        { """{"model":"nope","messages":[{"role":"user","content":"hi"}]}""", "model_not_found", "model", "nope" },
    };

    [Theory]
    [MemberData(nameof(ChatCases))]
    public async Task ChatCompletions_BadBody_Is4xxInOpenAiShape(string body, string code, string? param, string mentions)
    {
        var response = await PostAsync("/v1/chat/completions", Encoding.UTF8.GetBytes(body));

        var error = await AssertOpenAiError(response, code == "model_not_found" ? HttpStatusCode.NotFound : HttpStatusCode.BadRequest, code, param);
        Assert.Contains(mentions, error.GetProperty("message").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, _upstream.CallCount);
    }

    [Fact]
    public async Task ChatCompletions_InvalidUtf8_Is400()
    {
        var bytes = Encoding.UTF8.GetBytes("""{"model":"gpt-4o","messages":[{"role":"user","content":"AB"}]}""");
        var index = Array.IndexOf(bytes, (byte)'A');
        bytes[index] = 0xC3; // a lead byte ...
        bytes[index + 1] = 0x28; // ... followed by a byte that cannot continue it

        var error = await AssertOpenAiError(await PostAsync("/v1/chat/completions", bytes), HttpStatusCode.BadRequest, "invalid_json", null);
        Assert.Contains("UTF-8", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task ChatCompletions_RawNulByte_Is400()
    {
        var bytes = Encoding.UTF8.GetBytes("{\"model\":\"gpt-4o\",\u0000\"messages\":[]}");
        await AssertOpenAiError(await PostAsync("/v1/chat/completions", bytes), HttpStatusCode.BadRequest, "invalid_json", null);
    }

    [Fact]
    public async Task ChatCompletions_EscapedNulInContent_IsForwardedIntact()
    {
        var response = await PostAsync("/v1/chat/completions", Encoding.UTF8.GetBytes("""{"model":"gpt-4o","messages":[{"role":"user","content":"a\u0000b"}]}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var sent = JsonDocument.Parse(_upstream.LastRequest.Body);
        Assert.Equal("a\0b", sent.RootElement.GetProperty("messages")[0].GetProperty("content").GetString());
    }

    [Fact]
    public async Task ChatCompletions_DeepNesting_Is400()
    {
        var deep = new string('[', 10_000) + new string(']', 10_000);
        var body = $$"""{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"metadata":{{deep}}}""";

        var error = await AssertOpenAiError(await PostAsync("/v1/chat/completions", Encoding.UTF8.GetBytes(body)), HttpStatusCode.BadRequest, "invalid_json", null);
        Assert.Contains("nested", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task ChatCompletions_BodyOverLimit_Is413()
    {
        var big = new string('x', BodyLimit + 10);
        var body = $$"""{"model":"gpt-4o","messages":[{"role":"user","content":"{{big}}"}]}""";

        await AssertOpenAiError(await PostAsync("/v1/chat/completions", Encoding.UTF8.GetBytes(body)), HttpStatusCode.RequestEntityTooLarge, "request_too_large", null);
    }

    [Fact]
    public async Task ChatCompletions_BodyOverLimitWithoutContentLength_Is413()
    {
        var big = new string('x', BodyLimit + 10);
        var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes($$"""{"model":"gpt-4o","messages":[{"role":"user","content":"{{big}}"}]}""")));
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        await AssertOpenAiError(await _http.SendAsync(request, TestContext.Current.CancellationToken), HttpStatusCode.RequestEntityTooLarge, "request_too_large", null);
    }

    [Fact]
    public async Task ChatCompletions_EmptyBody_Is400()
    {
        await AssertOpenAiError(await PostAsync("/v1/chat/completions", []), HttpStatusCode.BadRequest, "invalid_json", null);
    }

    [Fact]
    public async Task ChatCompletions_MissingKey_Is401()
    {
        using var anonymous = new HttpClient { BaseAddress = _gateway.HttpBase };
        var response = await anonymous.PostAsync("/v1/chat/completions", new StringContent("""{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"""), TestContext.Current.CancellationToken);

        await AssertOpenAiError(response, HttpStatusCode.Unauthorized, "invalid_api_key", null);
    }

    public static TheoryData<string, string, string?> EmbeddingCases => new()
    {
        { """{"model":"text-embedding-3-small"}""", "missing_required_parameter", "input" },
        { """{"model":"text-embedding-3-small","input":5}""", "invalid_type", "input" },
        { """{"model":"text-embedding-3-small","input":[1,2,3]}""", "invalid_type", "input[0]" },
        { """{"model":"text-embedding-3-small","input":[]}""", "invalid_value", "input" },
        { """{"model":"text-embedding-3-small","input":"x","encoding_format":"hex"}""", "invalid_value", "encoding_format" },
        { """{"model":"text-embedding-3-small","input":"x","dimensions":0}""", "invalid_value", "dimensions" },
        { """{"input":"x"}""", "missing_required_parameter", "model" },
    };

    [Theory]
    [MemberData(nameof(EmbeddingCases))]
    public async Task Embeddings_BadBody_Is400InOpenAiShape(string body, string code, string? param)
    {
        await AssertOpenAiError(await PostAsync("/v1/embeddings", Encoding.UTF8.GetBytes(body)), HttpStatusCode.BadRequest, code, param);
        Assert.Equal(0, _upstream.CallCount);
    }

    [Fact]
    public async Task Embeddings_TooManyInputs_Is400()
    {
        var inputs = string.Join(",", Enumerable.Repeat("\"a\"", 3000));
        await AssertOpenAiError(await PostAsync("/v1/embeddings", Encoding.UTF8.GetBytes($$"""{"model":"text-embedding-3-small","input":[{{inputs}}]}""")), HttpStatusCode.BadRequest, "invalid_value", "input");
    }

    [Fact]
    public async Task UnknownRoute_Is404InOpenAiShape()
    {
        await AssertOpenAiError(await PostAsync("/v1/completions-legacy", "{}"u8.ToArray()), HttpStatusCode.NotFound, "unknown_route", null);
    }

    [Fact]
    public async Task AfterTheBattery_GatewayStillServes()
    {
        foreach (var row in ChatCases)
        {
            await PostAsync("/v1/chat/completions", Encoding.UTF8.GetBytes(row.Data.Item1));
        }
        var ok = await PostAsync("/v1/chat/completions", Encoding.UTF8.GetBytes("""{"model":"gpt-4o","messages":[{"role":"user","content":"still there?"}]}"""));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync("/healthz", TestContext.Current.CancellationToken)).StatusCode);
    }

    private Task<HttpResponseMessage> PostAsync(string path, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return _http.PostAsync(path, content, TestContext.Current.CancellationToken);
    }

    internal static async Task<JsonElement> AssertOpenAiError(HttpResponseMessage response, HttpStatusCode status, string code, string? param)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.True(response.Headers.Contains("x-request-id"));
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        using var document = JsonDocument.Parse(text);
        var error = document.RootElement.GetProperty("error").Clone();
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("type").GetString()));
        Assert.True(error.TryGetProperty("param", out var actualParam));
        if (param is not null)
        {
            Assert.Equal(param, actualParam.GetString());
        }
        return error;
    }
}
