namespace Gateway.Traces.Ingest;

// Every accepted trace, appended to a file before Accept returns. In-process delivery is inline, so that is
// before the client's answer leaves the gateway: a process killed with SIGKILL (or OOM-killed) loses no trace it
// answered for, since a written file outlives the process (only an OS crash or power loss can lose the page
// cache). A segment is deleted once every trace in it is in the store or the spool; the next start hands the
// segments a dead process left to the spool for replay. Same record format as the spool: length-delimited
// protobuf, a torn last record skipped.
public sealed class TraceJournal : IDisposable
{
    private const int RecordsPerSegment = 10_000;

    private readonly string _directory;
    private readonly Lock _lock = new();
    private readonly Dictionary<long, int> _outstanding = [];
    private FileStream? _current;
    private long _currentSegment;
    private int _currentRecords;
    private long _sequence;

    public TraceJournal(string directory)
    {
        _directory = Path.GetFullPath(directory);
        Directory.CreateDirectory(_directory);
        Leftovers = [.. Directory.EnumerateFiles(_directory, "*.journal").OrderBy(SequenceOf)];
        _sequence = Leftovers.Select(SequenceOf).DefaultIfEmpty(0).Max();
    }

    // Segments a previous process left behind: traces it accepted and may not have stored.
    public IReadOnlyList<string> Leftovers { get; }

    // Appends one trace, given as its protobuf encoding (made once by the caller, outside this lock, and
    // reused by the store), and returns its segment, to hand back to Done once the trace is safe elsewhere.
    public long Append(byte[] encoded)
    {
        lock (_lock)
        {
            if (_current is null)
            {
                _currentSegment = ++_sequence;
                _current = new FileStream(PathOf(_currentSegment), FileMode.CreateNew, FileAccess.Write, FileShare.Read);
                _currentRecords = 0;
            }
            WriteDelimited(_current, encoded);
            // Into the OS now (a write call), not at some later buffer flush: that is what survives a kill.
            _current.Flush(flushToDisk: false);
            var segment = _currentSegment;
            _outstanding[segment] = _outstanding.GetValueOrDefault(segment) + 1;
            if (++_currentRecords >= RecordsPerSegment)
            {
                _current.Dispose();
                _current = null;
                if (_outstanding.GetValueOrDefault(segment) == 0)
                {
                    File.Delete(PathOf(segment));
                }
            }
            return segment;
        }
    }

    // `count` traces of `segment` are in the store or the spool; a finished segment no longer needed goes.
    public void Done(long segment, int count)
    {
        lock (_lock)
        {
            var left = _outstanding.GetValueOrDefault(segment) - count;
            if (left > 0)
            {
                _outstanding[segment] = left;
                return;
            }
            _outstanding.Remove(segment);
            if (segment != _currentSegment || _current is null)
            {
                File.Delete(PathOf(segment));
            }
        }
    }

    // A leftover segment is in the spool now.
    public static void Forget(string leftover) => File.Delete(leftover);

    // A clean stop: everything accepted is in the store or the spool.
    public void Clear()
    {
        lock (_lock)
        {
            _current?.Dispose();
            _current = null;
            foreach (var segment in _outstanding.Keys.Append(_currentSegment))
            {
                File.Delete(PathOf(segment));
            }
            _outstanding.Clear();
        }
    }

    // The record as WriteDelimitedTo frames it: the length as a varint, then the message.
    internal static void WriteDelimited(Stream file, byte[] encoded)
    {
        Span<byte> prefix = stackalloc byte[5];
        var length = (uint)encoded.Length;
        var n = 0;
        while (length >= 0x80)
        {
            prefix[n++] = (byte)(length | 0x80);
            length >>= 7;
        }
        prefix[n++] = (byte)length;
        file.Write(prefix[..n]);
        file.Write(encoded);
    }

    private string PathOf(long segment) => Path.Combine(_directory, $"{segment:D12}.journal");

    private static long SequenceOf(string path)
        => long.TryParse(Path.GetFileNameWithoutExtension(path), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : 0;

    public void Dispose()
    {
        lock (_lock)
        {
            _current?.Dispose();
            _current = null;
        }
    }
}
