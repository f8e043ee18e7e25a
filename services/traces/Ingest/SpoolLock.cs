namespace Gateway.Traces.Ingest;

// One process per spool directory. A second one would replay the first's live journal as "left by a killed
// process" and write segments under the same names, so it is refused at start with a message saying why.
// The lock is an exclusive open of a file in the directory (flock on Linux): the kernel releases it when the
// process dies, SIGKILL included, so a restart after a crash is never locked out.
public sealed class SpoolLock : IDisposable
{
    private readonly FileStream _file;

    private SpoolLock(FileStream file) => _file = file;

    public static SpoolLock Acquire(string directory)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, ".lock");
        try
        {
            return new SpoolLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException e)
        {
            throw new InvalidOperationException(
                $"traces.spool_directory {Path.GetFullPath(directory)} is in use by another gateway process; give each replica its own spool directory.", e);
        }
    }

    public void Dispose() => _file.Dispose();
}
