namespace Gateway.Load.Harness;

/// <summary>
/// The reference point: the least an ASP.NET Core proxy can do for a chat request (read the body, forward it
/// over a pooled connection, copy the answer back). Gateway figures are reported as ratios to it.
/// </summary>
public static class PassThrough
{
    public static async Task RunAsync(int port, string upstream)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenLocalhost(port));
        using var client = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
        {
            BaseAddress = new Uri(upstream),
        };
        var app = builder.Build();
        app.MapPost("/v1/chat/completions", async (HttpContext context) =>
        {
            using var forward = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
            {
                Content = new StreamContent(context.Request.Body),
            };
            forward.Content.Headers.ContentType = new("application/json");
            using var answer = await client.SendAsync(forward, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
            context.Response.StatusCode = (int)answer.StatusCode;
            context.Response.ContentType = answer.Content.Headers.ContentType?.ToString();
            await answer.Content.CopyToAsync(context.Response.Body, context.RequestAborted);
        });
        app.MapGet("/healthz", () => "ok");
        await app.RunAsync();
    }
}
