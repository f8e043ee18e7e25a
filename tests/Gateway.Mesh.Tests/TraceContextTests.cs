using System.Diagnostics;
using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Common.Hosting;
using Gateway.Contracts.Guard.V1;
using Gateway.Guard;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Mesh.Tests;

// Over real sockets (SocketsHttpHandler, h2c), as in production: a call made inside a span carries exactly one
// traceparent, of the caller's trace, next to the request id and the deadline.
public sealed class TraceContextTests
{
    [Fact]
    public async Task ServiceClient_OverSockets_SendsOneTraceparentOfTheCallersTrace()
    {
        var directory = Path.Combine(Path.GetTempPath(), "gateway-tracecontext", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "guard.yaml");
        await File.WriteAllTextAsync(path, "keys: []\n", TestContext.Current.CancellationToken);
        var grpc = FreePort.Get();
        var builder = ServiceHost.Create(["--config", path, "--grpc", $"127.0.0.1:{grpc}", "--http", $"127.0.0.1:{FreePort.Get()}"], "guard", out var config);
        builder.Services.AddGuard(config);
        var recorder = new InMemoryMeshTests.CallRecorder();
        builder.Services.AddSingleton(recorder);
        builder.Services.AddGrpc(options => options.Interceptors.Add<InMemoryMeshTests.CallRecorder>());
        await using var guard = builder.Build();
        guard.MapGuard();
        await guard.StartAsync(TestContext.Current.CancellationToken);

        var services = new ServiceCollection();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(new ConfigMonitor(config, null, NullLogger<ConfigMonitor>.Instance));
        services.AddLogging();
        services.AddServiceClient<Contracts.Guard.V1.Guard.GuardClient>($"http://127.0.0.1:{grpc}", config.Services);
        await using var provider = services.BuildServiceProvider();
        using var source = new ActivitySource("trace-context-test");
        using var listener = new ActivityListener { ShouldListenTo = _ => true, Sample = (ref _) => ActivitySamplingResult.AllDataAndRecorded };
        ActivitySource.AddActivityListener(listener);
        using var span = source.StartActivity("caller")!;
        CallContext.Enter(new CallContext("req-123", null, TimeProvider.System.GetUtcNow().UtcDateTime.AddSeconds(30)));

        await provider.GetRequiredService<Contracts.Guard.V1.Guard.GuardClient>().ScanAsync(new ScanRequest { Text = "hello" }, cancellationToken: TestContext.Current.CancellationToken);

        var call = Assert.Single(recorder.Calls);
        Assert.Equal("req-123", call.RequestId);
        Assert.DoesNotContain(',', call.TraceParent!);
        Assert.Equal(span.TraceId.ToHexString(), call.TraceParent!.Split('-')[1]);
        Assert.InRange(call.Deadline, TimeProvider.System.GetUtcNow().UtcDateTime, TimeProvider.System.GetUtcNow().UtcDateTime.AddSeconds(30));
        await guard.StopAsync(TestContext.Current.CancellationToken);
    }
}
