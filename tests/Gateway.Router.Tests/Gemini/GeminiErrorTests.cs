using Gateway.Common.Errors;
using Gateway.Router.Providers.Gemini;
using Gateway.Testing.Fakes;

namespace Gateway.Router.Tests.Gemini;

// google.rpc.Status error bodies -> typed gateway errors.
public sealed class GeminiErrorTests
{
    [Fact]
    public void Read_InvalidArgument_IsInvalidRequestWithUpstreamMessage()
    {
        var body = FakeGemini.ErrorBody(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unknown name \"foo\": Cannot find field.");

        var error = GeminiErrors.Read("gemini", 400, body, null);

        Assert.Equal(ErrorKind.InvalidRequest, error.Kind);
        Assert.Equal(400, error.UpstreamStatus);
        Assert.Contains("Unknown name", error.Message, StringComparison.Ordinal);
        Assert.False(error.IsRetryable);
    }

    [Fact]
    public void Read_ApiKeyInvalidAs400_IsUpstreamAuthenticationAndRetryable()
    {
        var body = FakeGemini.ErrorBody(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", new System.Text.Json.Nodes.JsonObject
        {
            ["@type"] = "type.googleapis.com/google.rpc.ErrorInfo",
            ["reason"] = "API_KEY_INVALID",
            ["domain"] = "googleapis.com",
        });

        var error = GeminiErrors.Read("gemini", 400, body, null);

        Assert.Equal(ErrorKind.UpstreamAuthentication, error.Kind);
        Assert.True(error.IsRetryable);
        Assert.DoesNotContain("API key not valid", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")]
    [InlineData(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without established identity).")]
    public void Read_AuthFailures_AreUpstreamAuthenticationWithoutEchoingTheMessage(int status, string rpcStatus, string message)
    {
        var error = GeminiErrors.Read("gemini", status, FakeGemini.ErrorBody(status, rpcStatus, message), null);

        Assert.Equal(ErrorKind.UpstreamAuthentication, error.Kind);
        Assert.DoesNotContain(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_ResourceExhaustedWithRetryInfo_IsRateLimitedWithRetryDelay()
    {
        var body = FakeGemini.ErrorBody(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan and billing details.",
            new System.Text.Json.Nodes.JsonObject { ["@type"] = "type.googleapis.com/google.rpc.QuotaFailure", ["violations"] = new System.Text.Json.Nodes.JsonArray() },
            new System.Text.Json.Nodes.JsonObject { ["@type"] = "type.googleapis.com/google.rpc.RetryInfo", ["retryDelay"] = "36.5s" });

        var error = GeminiErrors.Read("gemini", 429, body, null);

        Assert.Equal(ErrorKind.UpstreamRateLimited, error.Kind);
        Assert.Equal(37, error.RetryAfterSeconds);
        Assert.True(error.IsRetryable);
    }

    [Fact]
    public void Read_ResourceExhaustedWithRetryAfterHeader_HeaderWins()
    {
        var body = FakeGemini.ErrorBody(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).",
            new System.Text.Json.Nodes.JsonObject { ["@type"] = "type.googleapis.com/google.rpc.RetryInfo", ["retryDelay"] = "40s" });

        var error = GeminiErrors.Read("gemini", 429, body, retryAfterSeconds: 5);

        Assert.Equal(ErrorKind.UpstreamRateLimited, error.Kind);
        Assert.Equal(5, error.RetryAfterSeconds);
    }

    [Theory]
    [InlineData(500, "INTERNAL", "An internal error has occurred.")]
    [InlineData(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")]
    public void Read_ServerErrors_AreRetryableUpstreamErrors(int status, string rpcStatus, string message)
    {
        var error = GeminiErrors.Read("gemini", status, FakeGemini.ErrorBody(status, rpcStatus, message), null);

        Assert.Equal(ErrorKind.UpstreamError, error.Kind);
        Assert.Equal(status, error.UpstreamStatus);
        Assert.True(error.IsRetryable);
    }

    [Fact]
    public void Read_InputTokenCountExceeds_IsContextLengthExceeded()
    {
        var body = FakeGemini.ErrorBody(400, "INVALID_ARGUMENT", "The input token count (1250000) exceeds the maximum number of tokens allowed (1048576).");

        var error = GeminiErrors.Read("gemini", 400, body, null);

        Assert.Equal(ErrorKind.ContextLengthExceeded, error.Kind);
        Assert.Equal("context_length_exceeded", error.Code);
    }

    [Fact]
    public void Read_NotJson_ClassifiesByStatus()
    {
        var error = GeminiErrors.Read("gemini", 502, "<html><body>Bad Gateway</body></html>", null);

        Assert.Equal(ErrorKind.UpstreamError, error.Kind);
    }

    [Theory]
    [InlineData("37s", 37)]
    [InlineData("0.2s", 1)]
    [InlineData("1.000340s", 2)]
    [InlineData("soon", null)]
    [InlineData("", null)]
    public void ParseDuration_ProtobufDuration_RoundsUpToSeconds(string duration, int? expected)
        => Assert.Equal(expected, GeminiErrors.ParseDuration(duration));
}
