using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;

namespace Gateway.Router.Providers;

public readonly record struct SseEvent(string? Event, string Data);

// Server-sent events per the WHATWG spec: lines end in LF, CRLF or CR; `data:` lines of one event join
// with LF; a blank line dispatches. Lines are decoded only when complete, so a multi-byte UTF-8 character
// split across network reads is never torn.
public static class SseReader
{
    // No provider sends events anywhere near this; a line or event past it is a broken or hostile upstream,
    // refused (InvalidDataException, the stream's typed parse error) instead of buffered without bound.
    public const int MaxEventBytes = 16 * 1024 * 1024;

    public static async IAsyncEnumerable<SseEvent> ReadAsync(Stream stream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, leaveOpen: true));
        string? eventName = null;
        var data = new StringBuilder();
        var hasData = false;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(cancellationToken);
                var buffer = result.Buffer;
                while (TryReadLine(ref buffer, result.IsCompleted, out var line))
                {
                    if (line.Length == 0)
                    {
                        if (hasData)
                        {
                            yield return new SseEvent(eventName, data.ToString());
                        }
                        eventName = null;
                        data.Clear();
                        hasData = false;
                        continue;
                    }
                    ProcessLine(line, ref eventName, data, ref hasData);
                    if (data.Length > MaxEventBytes)
                    {
                        throw new InvalidDataException($"A server-sent event is larger than {MaxEventBytes} bytes.");
                    }
                }
                if (buffer.Length > MaxEventBytes)
                {
                    throw new InvalidDataException($"A server-sent event line is longer than {MaxEventBytes} bytes.");
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    // A final event without its blank line still counts: servers often close right after it.
                    if (hasData)
                    {
                        yield return new SseEvent(eventName, data.ToString());
                    }
                    yield break;
                }
            }
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    private static void ProcessLine(string line, ref string? eventName, StringBuilder data, ref bool hasData)
    {
        if (line[0] == ':')
        {
            return; // comment / keep-alive
        }
        var colon = line.IndexOf(':');
        var field = colon < 0 ? line : line[..colon];
        var value = colon < 0 ? "" : line[(colon + 1)..];
        if (value.Length > 0 && value[0] == ' ')
        {
            value = value[1..];
        }
        switch (field)
        {
            case "data":
                if (hasData)
                {
                    data.Append('\n');
                }
                data.Append(value);
                hasData = true;
                break;
            case "event":
                eventName = value;
                break;
        }
    }

    private static bool TryReadLine(ref ReadOnlySequence<byte> buffer, bool isCompleted, out string line)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (reader.TryAdvanceToAny("\r\n"u8, advancePastDelimiter: false))
        {
            var lineEnd = reader.Position;
            reader.TryRead(out var terminator);
            if (terminator == (byte)'\r')
            {
                if (reader.End && !isCompleted)
                {
                    // CR at the end of what we have: the LF of a CRLF may still be on its way.
                    line = "";
                    return false;
                }
                if (reader.TryPeek(out var next) && next == (byte)'\n')
                {
                    reader.Advance(1);
                }
            }
            line = Encoding.UTF8.GetString(buffer.Slice(0, lineEnd));
            buffer = buffer.Slice(reader.Position);
            return true;
        }
        if (isCompleted && !buffer.IsEmpty)
        {
            line = Encoding.UTF8.GetString(buffer);
            buffer = buffer.Slice(buffer.End);
            return true;
        }
        line = "";
        return false;
    }
}
