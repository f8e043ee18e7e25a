using Gateway.Common.Errors;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;

namespace Gateway.Router.Routing;

// A provider stream after its first chunk: enforces the idle-between-chunks limit and reports the stream's
// outcome (latency, time to first token, cost) to the deployment's health when it ends. A failure here can no
// longer fail over: the pipeline sends an error event and aborts.
internal sealed class RoutedStream : IAsyncEnumerator<ChatChunk>
{
    private readonly IAsyncEnumerator<ChatChunk> _inner;
    private readonly StreamTimer _timer;
    private readonly TimeSpan? _idle;
    private readonly string _provider;
    private readonly Action<bool, Usage?> _onEnd;
    private Usage? _usage;
    private bool _ended;

    public RoutedStream(IAsyncEnumerator<ChatChunk> inner, StreamTimer timer, TimeSpan? idle, string provider, Usage? firstUsage, Action<bool, Usage?> onEnd)
    {
        _inner = inner;
        _timer = timer;
        _idle = idle;
        _provider = provider;
        _usage = firstUsage;
        _onEnd = onEnd;
    }

    public ChatChunk Current => _inner.Current;

    public async ValueTask<bool> MoveNextAsync()
    {
        if (_idle is { } idle)
        {
            _timer.Arm(idle);
        }
        try
        {
            var more = await _inner.MoveNextAsync();
            _timer.Disarm();
            if (!more)
            {
                End(failed: false);
            }
            else if (_inner.Current.Usage is { } usage)
            {
                _usage = usage;
            }
            return more;
        }
        catch (OperationCanceledException) when (_timer.Fired)
        {
            End(failed: true);
            throw new GatewayException(ErrorKind.UpstreamTimeout, $"Provider '{_provider}' sent nothing for {_idle!.Value.TotalMilliseconds:0} ms in the middle of the stream.", code: Failures.IdleTimeoutCode);
        }
        catch (GatewayException)
        {
            End(failed: true);
            throw;
        }
    }

    private void End(bool failed)
    {
        if (!_ended)
        {
            _ended = true;
            _onEnd(failed, _usage);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _inner.DisposeAsync();
        }
        finally
        {
            // A client that went away is not the deployment's fault.
            End(failed: false);
            _timer.Dispose();
        }
    }
}

// The clock of one streaming attempt: a token the provider call runs on, cancelled by the request or when the
// armed limit (time to first token, then idle time between chunks) passes on the injected TimeProvider.
internal sealed class StreamTimer : IDisposable
{
    private readonly CancellationTokenSource _timer;
    private readonly CancellationTokenSource _linked;
    private readonly CancellationToken _request;

    public StreamTimer(TimeProvider time, CancellationToken request)
    {
        _request = request;
        _timer = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        _linked = CancellationTokenSource.CreateLinkedTokenSource(request, _timer.Token);
    }

    public CancellationToken Token => _linked.Token;

    // The limit passed and the request itself is still wanted.
    public bool Fired => _timer.IsCancellationRequested && !_request.IsCancellationRequested;

    public void Arm(TimeSpan limit) => _timer.CancelAfter(limit);

    public void Disarm()
    {
        if (!_timer.IsCancellationRequested)
        {
            _timer.CancelAfter(Timeout.InfiniteTimeSpan);
        }
    }

    public void Dispose()
    {
        _linked.Dispose();
        _timer.Dispose();
    }
}
