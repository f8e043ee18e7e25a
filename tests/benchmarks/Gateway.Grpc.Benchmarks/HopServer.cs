using Gateway.Contracts.Guard.V1;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Grpc.Benchmarks;

// A gRPC server whose one method does no work: what remains of a call is the transport (HTTP/2 over loopback,
// protobuf, the thread hops on each side).
public static class HopServer
{
    public static async Task RunAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenLocalhost(port, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        var app = builder.Build();
        app.MapGrpcService<AllowEverything>();
        await app.StartAsync();
        Console.WriteLine("ready");
        await app.WaitForShutdownAsync();
    }

    private sealed class AllowEverything : Guard.GuardBase
    {
        private static readonly Task<Verdict> Allowed = Task.FromResult(new Verdict());

        public override Task<Verdict> CheckInput(CheckInputRequest request, ServerCallContext context) => Allowed;
    }
}
