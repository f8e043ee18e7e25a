using System.Collections.Concurrent;

namespace Gateway.Common.Storage;

// Runs synchronous work (a SQLite batch: tens of milliseconds of CPU and disk writes) on one thread of its own,
// one item at a time. On the thread pool such a batch holds a worker for its whole length, and with one worker
// per core every request behind it waits that long; on a thread of its own the OS shares the core between it
// and the requests.
public sealed class WorkerThread : IDisposable
{
    private readonly BlockingCollection<Action> _queue = [];
    private readonly Thread _thread;
    private int _disposed;

    public WorkerThread(string name)
    {
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    public Task RunAsync(Action work)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Item()
        {
            try
            {
                work();
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }
        try
        {
            _queue.Add(Item);
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
        {
            // Stopped: the work did not run.
            done.SetException(new ObjectDisposedException(_thread.Name, e));
        }
        return done.Task;
    }

    private void Run()
    {
        foreach (var work in _queue.GetConsumingEnumerable())
        {
            work();
        }
    }

    // The store that owns it may be disposed once per service interface it is registered under.
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        _queue.CompleteAdding();
        _thread.Join(TimeSpan.FromSeconds(30));
        _queue.Dispose();
    }
}
