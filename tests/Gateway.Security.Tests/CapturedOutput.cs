using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Gateway.Security.Tests;

// Every log event the gateway writes, as text: the rendered message, each structured property and the
// exception. Serilog forwards to providers registered beside it (writeToProviders), so this sees what every
// Serilog sink sees, properties included.
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull
        {
            owner.Lines.Enqueue($"scope {category}: {Describe(state)}");
            return null;
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => owner.Lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} | {Describe(state)} | {exception}");

        private static string Describe(object? state)
            => state is IEnumerable<KeyValuePair<string, object?>> properties
                ? string.Join(", ", properties.Select(p => $"{p.Key}={p.Value}"))
                : state?.ToString() ?? "";
    }
}

// Console output written while a test runs, passed on to the real console as well.
public sealed class ConsoleTee : TextWriter
{
    private readonly TextWriter _original;
    private readonly StringBuilder _captured = new();

    public ConsoleTee()
    {
        _original = Console.Out;
        Console.SetOut(this);
    }

    public override Encoding Encoding => _original.Encoding;

    public string Captured
    {
        get
        {
            lock (_captured)
            {
                return _captured.ToString();
            }
        }
    }

    public override void Write(char value)
    {
        lock (_captured)
        {
            _captured.Append(value);
        }
        _original.Write(value);
    }

    public override void Write(string? value)
    {
        lock (_captured)
        {
            _captured.Append(value);
        }
        _original.Write(value);
    }

    protected override void Dispose(bool disposing)
    {
        Console.SetOut(_original);
        base.Dispose(disposing);
    }
}

// A secret and the encodings it could be found in if something wrote it out.
public sealed record Secret(string Name, string Value)
{
    public IEnumerable<string> Forms()
    {
        var bytes = Encoding.UTF8.GetBytes(Value);
        yield return Value;
        yield return Uri.EscapeDataString(Value);
        yield return Convert.ToBase64String(bytes);
        yield return Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        yield return Convert.ToHexString(bytes);
        yield return Convert.ToHexStringLower(bytes);
    }

    // Names the first form of the secret found in `text`, or null.
    public string? FoundIn(string text) => Forms().FirstOrDefault(form => text.Contains(form, StringComparison.OrdinalIgnoreCase));

    // `spans` is the in-memory exporter's list, which the gateway's background work (a trace batch, a sidecar
    // publish) may still append to while it is read: read a copy, taken again if an append moved it meanwhile.
    public static string Spans(List<Activity> spans)
    {
        while (true)
        {
            try
            {
                return Spans(spans.ToArray());
            }
            catch (ArgumentException)
            {
                // The list grew between reading its size and copying its array.
            }
        }
    }

    private static string Spans(Activity[] spans)
        => string.Join("\n", spans.Select(s =>
            $"{s.DisplayName} {s.StatusDescription} {string.Join(", ", s.TagObjects.Select(t => $"{t.Key}={t.Value}"))} "
            + string.Join(", ", s.Events.Select(e => e.Name + " " + string.Join(", ", e.Tags.Select(t => $"{t.Key}={t.Value}"))))));
}
