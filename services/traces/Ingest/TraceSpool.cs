using Gateway.Contracts.Traces.V1;
using Google.Protobuf;

namespace Gateway.Traces.Ingest;

// Traces that did not fit in memory while the store was away, on disk: append-only files of length-delimited
// protobuf events. A file is replayed whole, in fixed-size batches (the same batches, so the same dedup tokens,
// if a replay is interrupted and repeated), and deleted only after every batch in it was written. A torn last
// record (crash mid-append) is skipped.
public sealed class TraceSpool : IDisposable
{
    private const int RecordsPerFile = 5_000;

    private readonly string _directory;
    private readonly Lock _lock = new();
    private FileStream? _current;
    private string? _currentPath;
    private int _currentRecords;
    private long _sequence;

    public TraceSpool(string directory)
    {
        _directory = Path.GetFullPath(directory);
        Directory.CreateDirectory(_directory);
        _sequence = Directory.EnumerateFiles(_directory, "*.spool").Select(SequenceOf).DefaultIfEmpty(0).Max();
    }

    public string DirectoryPath => _directory;

    public long Count { get; private set; }

    public void Append(IEnumerable<TraceEvent> traces)
    {
        lock (_lock)
        {
            foreach (var trace in traces)
            {
                if (_current is null)
                {
                    _currentPath = Path.Combine(_directory, $"{++_sequence:D12}.spool.open");
                    _current = new FileStream(_currentPath, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
                    _currentRecords = 0;
                }
                trace.WriteDelimitedTo(_current);
                _currentRecords++;
                Count++;
                if (_currentRecords >= RecordsPerFile)
                {
                    SealCurrent();
                }
            }
            _current?.Flush(flushToDisk: false);
        }
    }

    // Files ready to replay, oldest first. The file being appended to is sealed first so that it is included.
    public IReadOnlyList<string> SealedFiles()
    {
        lock (_lock)
        {
            SealCurrent();
            // A file left ".open" by a crash is complete up to its torn tail: treat it as sealed.
            foreach (var open in Directory.EnumerateFiles(_directory, "*.spool.open"))
            {
                File.Move(open, open[..^".open".Length], overwrite: true);
            }
            return [.. Directory.EnumerateFiles(_directory, "*.spool").OrderBy(SequenceOf)];
        }
    }

    public static List<TraceEvent> Read(string path)
    {
        var traces = new List<TraceEvent>();
        using var stream = File.OpenRead(path);
        while (stream.Position < stream.Length)
        {
            try
            {
                traces.Add(TraceEvent.Parser.ParseDelimitedFrom(stream));
            }
            catch (InvalidProtocolBufferException)
            {
                break;
            }
        }
        return traces;
    }

    public void Delete(string path, int records)
    {
        lock (_lock)
        {
            File.Delete(path);
            Count = Math.Max(0, Count - records);
        }
    }

    private void SealCurrent()
    {
        if (_current is null)
        {
            return;
        }
        _current.Flush(flushToDisk: true);
        _current.Dispose();
        _current = null;
        File.Move(_currentPath!, _currentPath![..^".open".Length]);
    }

    private static long SequenceOf(string path)
    {
        var name = Path.GetFileName(path);
        var dot = name.IndexOf('.', StringComparison.Ordinal);
        return long.TryParse(name.AsSpan(0, dot), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : 0;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            SealCurrent();
        }
    }
}
