using Gateway.Testing.Fakes;

// Usage: Gateway.Load.FakeUpstream PORT — serves the OpenAI wire format until stdin closes or Ctrl+C.
var port = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 9900;
await using var upstream = new FakeOpenAi { Port = port, Record = false };
await upstream.StartAsync();
Console.WriteLine($"fake upstream on {upstream.Url}");
var done = new TaskCompletionSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; done.TrySetResult(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => done.TrySetResult();
await done.Task;
