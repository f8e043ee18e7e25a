using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Contracts.Guard.V1;
using Gateway.Contracts.Inference.V1;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Grpc.Benchmarks;

// Sequential unary calls (one in flight, as a single request crossing the mesh makes them) to a server in a
// child process. "plain" is GrpcChannel.ForAddress with its defaults; "gateway" is the client every service
// uses for another (ServiceClientRegistration.AddServiceClient: retry policy, call-context interceptor).
public static class HopLatency
{
    public static async Task RunAsync(int calls, string clientKind)
    {
        var port = FreePort();
        var self = Environment.GetCommandLineArgs()[0];
        var start = self.EndsWith(".dll", StringComparison.Ordinal)
            ? new ProcessStartInfo("dotnet") { ArgumentList = { self, "serve", port.ToString(CultureInfo.InvariantCulture) } }
            : new ProcessStartInfo(self) { ArgumentList = { "serve", port.ToString(CultureInfo.InvariantCulture) } };
        start.RedirectStandardOutput = true;
        using var server = Process.Start(start) ?? throw new InvalidOperationException("server did not start");
        try
        {
            await server.StandardOutput.ReadLineAsync();
            var address = $"http://127.0.0.1:{port}";
            await using var services = Services(clientKind, address);
            var client = services?.GetRequiredService<Guard.GuardClient>() ?? new Guard.GuardClient(Channel(clientKind, address));
            var request = Request();

            // Warm up until the JIT has settled (tiered compilation promotes hot methods after 30 calls plus a delay).
            var warmup = Stopwatch.StartNew();
            while (warmup.Elapsed < TimeSpan.FromSeconds(3))
            {
                await client.CheckInputAsync(request);
            }

            var elapsed = new double[calls];
            var switches = ContextSwitches(Environment.ProcessId) + ContextSwitches(server.Id);
            var clientCpu = Process.GetCurrentProcess().TotalProcessorTime;
            server.Refresh();
            var serverCpu = server.TotalProcessorTime;
            var total = Stopwatch.StartNew();
            for (var i = 0; i < calls; i++)
            {
                var started = Stopwatch.GetTimestamp();
                await client.CheckInputAsync(request);
                elapsed[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
            }
            total.Stop();
            switches = ContextSwitches(Environment.ProcessId) + ContextSwitches(server.Id) - switches;
            clientCpu = Process.GetCurrentProcess().TotalProcessorTime - clientCpu;
            server.Refresh();
            serverCpu = server.TotalProcessorTime - serverCpu;

            Array.Sort(elapsed);
            double At(double q) => elapsed[(int)Math.Min(elapsed.Length - 1, q * elapsed.Length)];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{clientKind} client, {calls} sequential calls: p50 {At(0.5):F0} µs, p90 {At(0.9):F0} µs, p99 {At(0.99):F0} µs, mean {total.Elapsed.TotalMicroseconds / calls:F0} µs; " +
                $"CPU per call: client {clientCpu.TotalMicroseconds / calls:F0} µs, server {serverCpu.TotalMicroseconds / calls:F0} µs; " +
                $"context switches per call (both processes): {(double)switches / calls:F1}"));
        }
        finally
        {
            server.Kill();
            await server.WaitForExitAsync();
        }
    }

    // "retry": a plain channel with the services' retry policy; "factory": the client factory (AddGrpcClient)
    // without the services' policy and interceptor; "gateway": AddServiceClient.
    private static GrpcChannel Channel(string clientKind, string address) => clientKind switch
    {
        "plain" => GrpcChannel.ForAddress(address),
        "retry" => GrpcChannel.ForAddress(address, new GrpcChannelOptions { ServiceConfig = ServiceClientRegistration.RetryOnUnavailable() }),
        _ => throw new ArgumentException($"unknown client '{clientKind}': plain, retry, factory or gateway"),
    };

    private static ServiceProvider? Services(string clientKind, string address)
    {
        if (clientKind is "plain" or "retry")
        {
            return null;
        }
        var config = new GatewayConfig();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(new ConfigMonitor(config, null, NullLogger<ConfigMonitor>.Instance));
        if (clientKind == "factory")
        {
            services.AddGrpcClient<Guard.GuardClient>(options => options.Address = new Uri(address));
        }
        else
        {
            services.AddServiceClient<Guard.GuardClient>(address, config.Services);
        }
        return services.BuildServiceProvider();
    }

    // About what the router sends the guard for the load harness's chat request (a ~1 KB prompt).
    private static CheckInputRequest Request()
    {
        var message = new Message { Role = Role.User };
        message.Content.Add(new ContentPart { Text = string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 23)) });
        var chat = new ChatRequest { Model = "gpt-4o" };
        chat.Messages.Add(message);
        return new CheckInputRequest { Request = chat };
    }

    // Thread wake-ups, voluntary or not, summed over a process's threads (Linux /proc): unlike time, a count the
    // other tenants of a shared machine barely move.
    private static long ContextSwitches(int pid)
    {
        long total = 0;
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                foreach (var line in File.ReadLines(Path.Combine(task, "status")))
                {
                    if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                    {
                        total += long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim(), CultureInfo.InvariantCulture);
                    }
                }
            }
            catch (IOException)
            {
                // The thread ended between listing and reading.
            }
        }
        return total;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
