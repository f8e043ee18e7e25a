using System.Runtime.InteropServices;
using Gateway.Testing.Fakes;

// Usage: Gateway.Load.FakeUpstream PORT — serves the OpenAI wire format until SIGTERM or Ctrl+C.
var port = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 9900;
await using var upstream = new FakeOpenAi { Port = port, Record = false };
await upstream.StartAsync();
Console.WriteLine($"fake upstream on {upstream.Url}");
var done = new TaskCompletionSource();
void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    done.TrySetResult();
}
using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
await done.Task;
