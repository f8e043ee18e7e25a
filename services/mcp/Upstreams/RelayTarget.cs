using System.Threading.Channels;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Gateway.Mcp.Upstreams;

// The downstream end of one relayed tool call. Notifications from the upstream (progress, logging) are queued
// and forwarded by one pump in the order they arrived; progress that does not increase is dropped, as the
// protocol requires progress to grow. Sampling and elicitation requests go to the same downstream session.
public sealed class RelayTarget
{
    private readonly McpServer _downstream;
    private readonly Channel<object> _queue = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _pump;
    private readonly ILogger _logger;
    private readonly string _server;
    private double _lastProgress = double.NegativeInfinity;

    public RelayTarget(McpServer downstream, ProgressToken? progressToken, string server, ILogger logger)
    {
        _downstream = downstream;
        ProgressToken = progressToken;
        _server = server;
        _logger = logger;
        _pump = Task.Run(PumpAsync);
    }

    public ProgressToken? ProgressToken { get; }

    // The downstream session the call came from.
    public string? SessionId => _downstream.SessionId;

    public string? UpstreamToken { get; set; }

    public void Enqueue(object notification) => _queue.Writer.TryWrite(notification);

    public void Complete() => _queue.Writer.TryComplete();

    public async Task DrainAsync()
    {
        _queue.Writer.TryComplete();
        await _pump;
    }

    public async ValueTask<CreateMessageResult> SampleAsync(CreateMessageRequestParams request, CancellationToken cancellationToken)
        => await _downstream.SampleAsync(request, cancellationToken);

    public async ValueTask<ElicitResult> ElicitAsync(ElicitRequestParams request, CancellationToken cancellationToken)
        => await _downstream.ElicitAsync(request, cancellationToken);

    private async Task PumpAsync()
    {
        await foreach (var item in _queue.Reader.ReadAllAsync())
        {
            try
            {
                switch (item)
                {
                    case ProgressNotificationParams progress when ProgressToken is { } token && progress.Progress.Progress > _lastProgress:
                        _lastProgress = progress.Progress.Progress;
                        await _downstream.NotifyProgressAsync(new ProgressNotificationParams { ProgressToken = token, Progress = progress.Progress });
                        break;
                    case LoggingMessageNotificationParams log:
                        await _downstream.SendNotificationAsync(NotificationMethods.LoggingMessageNotification, log);
                        break;
                }
            }
            catch (Exception error) when (error is McpException or IOException or InvalidOperationException or ObjectDisposedException or OperationCanceledException)
            {
                McpLog.RelayFailed(_logger, error, item is ProgressNotificationParams ? NotificationMethods.ProgressNotification : NotificationMethods.LoggingMessageNotification, _server);
            }
        }
    }
}
