using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Gateway.Testing.Fakes;

// An HTTP listener for alert webhooks: records every POST (Requests, Received) and answers 200.
public sealed class FakeWebhook : FakeUpstream
{
    public static async Task<FakeWebhook> StartNewAsync()
    {
        var fake = new FakeWebhook();
        await fake.StartAsync();
        return fake;
    }

    protected override void Map(WebApplication app) => app.MapPost("/alerts", () => Results.Ok());
}
