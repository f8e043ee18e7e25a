using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Gateway.Testing.Fakes;

// An OpenAI /v1/moderations server speaking the real wire format: {"model", "input": string | [strings]} in,
// {"id", "model", "results": [{"flagged", "categories": {...}, "category_scores": {...}}]} out, one result per
// input. An input is flagged in a category when it contains one of that category's trigger words; Status
// (500, ...) or Delay make it fail instead.
public sealed class FakeModeration : FakeUpstream
{
    private static readonly string[] Categories =
        ["harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent", "self-harm",
         "self-harm/intent", "self-harm/instructions", "sexual", "sexual/minors", "violence", "violence/graphic"];

    // Category -> words that flag it.
    public Dictionary<string, string[]> Triggers { get; } = new(StringComparer.Ordinal);

    public int Status { get; set; } = 200;

    public TimeSpan Delay { get; set; }

    public static async Task<FakeModeration> StartNewAsync()
    {
        var fake = new FakeModeration();
        await fake.StartAsync();
        return fake;
    }

    protected override void Map(WebApplication app) => app.MapPost("/v1/moderations", ModerateAsync);

    private async Task ModerateAsync(HttpContext context)
    {
        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay, context.RequestAborted);
        }
        if (Status != 200)
        {
            context.Response.StatusCode = Status;
            await context.Response.WriteAsJsonAsync(new JsonObject { ["error"] = new JsonObject { ["message"] = "upstream failure", ["type"] = "server_error" } });
            return;
        }
        var request = (await JsonNode.ParseAsync(context.Request.Body))!.AsObject();
        var inputs = request["input"] is JsonArray array ? array.Select(i => i!.GetValue<string>()).ToList() : [request["input"]!.GetValue<string>()];
        var results = new JsonArray();
        foreach (var input in inputs)
        {
            var categories = new JsonObject();
            var scores = new JsonObject();
            var flagged = false;
            foreach (var category in Categories)
            {
                var hit = Triggers.TryGetValue(category, out var words) && words.Any(w => input.Contains(w, StringComparison.OrdinalIgnoreCase));
                flagged |= hit;
                categories[category] = hit;
                scores[category] = hit ? 0.97 : 0.0004;
            }
            results.Add(new JsonObject { ["flagged"] = flagged, ["categories"] = categories, ["category_scores"] = scores });
        }
        await context.Response.WriteAsJsonAsync(new JsonObject
        {
            ["id"] = "modr-" + Guid.NewGuid().ToString("N")[..12],
            ["model"] = request["model"]?.GetValue<string>() ?? "omni-moderation-latest",
            ["results"] = results,
        });
    }
}
