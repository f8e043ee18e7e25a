using System.Globalization;
using Gateway.Grpc.Benchmarks;

// hop [calls] [plain|gateway]  starts an echo-like gRPC server as a child process (it inherits this process's
//                              CPU affinity, so `taskset -c 0` puts both on one core) and times sequential unary
//                              calls to it; prints latency percentiles and CPU per call of each side.
// serve PORT                   the server alone.
if (args is ["serve", var port])
{
    await HopServer.RunAsync(int.Parse(port, CultureInfo.InvariantCulture));
    return;
}
var calls = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5000;
var client = args.Length > 2 ? args[2] : "gateway";
await HopLatency.RunAsync(calls, client);
