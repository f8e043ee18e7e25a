using System.Net.Http.Headers;
using System.Text.Json;
using Gateway.Common.Configuration;

namespace Gateway.Guard;

// What an external moderation endpoint said: flagged categories with how many inputs each was flagged in, or
// why it could not say.
public sealed record ModerationOutcome(IReadOnlyDictionary<string, int> Flagged, string? Error)
{
    public static ModerationOutcome Failed(string error) => new(new Dictionary<string, int>(), error);
}

// Calls an OpenAI-compatible /v1/moderations endpoint (guard.moderation.external): POST {"model"?, "input": [texts]}
// with a bearer key; the answer's results[i].categories name what is flagged. The URL and key come only from
// config. Texts sent are the ones that would reach a provider (after redaction and pseudonymisation).
public sealed class ExternalModeration(TimeProvider time)
{
    // One client for the process; connections are recycled so a changed DNS answer is picked up.
    private static readonly HttpClient Http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), AllowAutoRedirect = false })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public async Task<ModerationOutcome> CheckAsync(ExternalModerationConfig config, IReadOnlyList<string> texts, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(config.TimeoutMs), time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        using var request = new HttpRequestMessage(HttpMethod.Post, config.Url) { Content = new ByteArrayContent(Body(config, texts)) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var key = config.ApiKeyEnv is { } variable ? Environment.GetEnvironmentVariable(variable) : config.ApiKey;
        if (!string.IsNullOrEmpty(key))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        try
        {
            using var response = await Http.SendAsync(request, linked.Token);
            if (!response.IsSuccessStatusCode)
            {
                return ModerationOutcome.Failed($"answered HTTP {(int)response.StatusCode}");
            }
            await using var stream = await response.Content.ReadAsStreamAsync(linked.Token);
            using var document = await JsonDocument.ParseAsync(stream, cancellationToken: linked.Token);
            return Read(document.RootElement, texts.Count);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return ModerationOutcome.Failed($"did not answer within {config.TimeoutMs} ms");
        }
        catch (HttpRequestException e)
        {
            return ModerationOutcome.Failed($"unreachable ({e.HttpRequestError})");
        }
        catch (JsonException)
        {
            return ModerationOutcome.Failed("answered with something that is not JSON");
        }
    }

    private static byte[] Body(ExternalModerationConfig config, IReadOnlyList<string> texts)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            if (config.Model is { Length: > 0 } model)
            {
                writer.WriteString("model", model);
            }
            writer.WriteStartArray("input");
            foreach (var text in texts)
            {
                writer.WriteStringValue(text);
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    // One result per input; a category counts when its boolean is true (category_scores are the endpoint's
    // own business: its booleans already apply its thresholds).
    private static ModerationOutcome Read(JsonElement root, int inputs)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("results", out var results) || results.ValueKind != JsonValueKind.Array
            || results.GetArrayLength() != inputs)
        {
            return ModerationOutcome.Failed("answered without one result per input");
        }
        var flagged = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var result in results.EnumerateArray())
        {
            if (result.ValueKind != JsonValueKind.Object || !result.TryGetProperty("categories", out var categories) || categories.ValueKind != JsonValueKind.Object)
            {
                return ModerationOutcome.Failed("answered a result without categories");
            }
            var any = false;
            foreach (var category in categories.EnumerateObject())
            {
                if (category.Value.ValueKind == JsonValueKind.True)
                {
                    flagged[category.Name] = flagged.GetValueOrDefault(category.Name) + 1;
                    any = true;
                }
            }
            // Flagged without naming a category: still flagged.
            if (!any && result.TryGetProperty("flagged", out var flag) && flag.ValueKind == JsonValueKind.True)
            {
                flagged["flagged"] = flagged.GetValueOrDefault("flagged") + 1;
            }
        }
        return new ModerationOutcome(flagged, null);
    }
}
