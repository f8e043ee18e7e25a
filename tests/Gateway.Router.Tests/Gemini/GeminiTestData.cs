using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Common.Configuration;
using Gateway.Router.Providers;

namespace Gateway.Router.Tests.Gemini;

internal static class GeminiTestData
{
    public static ProviderTarget Target(string baseUrl = "https://generativelanguage.googleapis.com", string? apiKey = "AIza-test-key", string model = "gemini-2.5-flash")
        => new("gemini", new ProviderConfig { Kind = "gemini", BaseUrl = baseUrl, ApiKey = apiKey, TimeoutSeconds = 30 }, model, "gemini-flash");

    public static string Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, ProviderHttp.WriterOptions))
        {
            write(writer);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    // Compact, order-preserving form: golden comparisons are exact but ignore whitespace.
    public static string Normalize(string json) => JsonNode.Parse(json)!.ToJsonString();

    public static void AssertJson(string expected, string actual) => Assert.Equal(Normalize(expected), Normalize(actual));
}

// One pooled client for provider tests; the factory the router uses in production does the same.
internal sealed class SingleClientFactory : IHttpClientFactory, IDisposable
{
    private readonly HttpClient _client = new() { Timeout = Timeout.InfiniteTimeSpan };

    public HttpClient CreateClient(string name) => _client;

    public void Dispose() => _client.Dispose();
}
