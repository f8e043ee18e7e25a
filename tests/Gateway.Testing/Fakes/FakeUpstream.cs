using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Gateway.Testing.Fakes;

// What a fake provider received: enough to assert exactly what left the gateway.
public sealed record RecordedRequest(string Method, string PathAndQuery, IReadOnlyDictionary<string, string> Headers, string Body);

// A real HTTP server on 127.0.0.1 (random port) standing in for a provider. Subclasses map the routes of
// one provider's wire format.
public abstract class FakeUpstream : IAsyncDisposable
{
    private WebApplication? _app;

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    public Uri Url { get; private set; } = null!;

    public int CallCount => Requests.Count;

    // 0 = any free port.
    public int Port { get; init; }

    // Off for load runs, where keeping every request would only measure the fake.
    public bool Record { get; init; } = true;

    // Raised as each request arrives, before it is answered.
    public event Action<RecordedRequest>? Received;

    protected abstract void Map(WebApplication app);

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, Port));
        _app = builder.Build();
        _app.Use(async (context, next) =>
        {
            if (!Record)
            {
                await next(context);
                return;
            }
            context.Request.EnableBuffering();
            using var reader = new StreamReader(context.Request.Body, leaveOpen: true);
            var body = await reader.ReadToEndAsync(context.RequestAborted);
            context.Request.Body.Position = 0;
            var recorded = new RecordedRequest(
                context.Request.Method,
                context.Request.Path + context.Request.QueryString,
                context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()),
                body);
            Requests.Enqueue(recorded);
            Received?.Invoke(recorded);
            await next(context);
        });
        Map(_app);
        await _app.StartAsync();
        Url = new Uri(_app.Urls.First());
    }

    public RecordedRequest LastRequest => Requests.Last();

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        GC.SuppressFinalize(this);
    }

    protected static async Task WriteSseAsync(HttpResponse response, IEnumerable<string> frames, CancellationToken cancellationToken)
    {
        // A stream written in parts (a stall, then the rest) sets its headers once.
        if (!response.HasStarted)
        {
            response.ContentType = "text/event-stream";
        }
        foreach (var frame in frames)
        {
            await response.WriteAsync(frame, cancellationToken);
            await response.Body.FlushAsync(cancellationToken);
        }
    }
}
