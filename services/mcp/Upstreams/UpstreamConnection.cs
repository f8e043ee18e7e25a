using System.Collections.Concurrent;
using System.Text.Json;
using Gateway.Common.Configuration;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Gateway.Mcp.Upstreams;

public enum UpstreamState { Starting, Healthy, Restarting, Stopped }

// One registered MCP server: the gateway's client session to it, supervised. A stdio server is launched by
// the gateway and relaunched with exponential backoff when it exits; a Streamable HTTP server is reconnected
// the same way. Discovery runs on connect, on list_changed notifications and periodically.
//
// Server-to-client requests (sampling, elicitation) and logging carry no link to the call that caused them.
// So a Streamable HTTP server gets one upstream session per downstream session (opened on its first call,
// closed with it): whatever arrives on it belongs to that session. A stdio server has one process and one
// session; there such a request goes to the session with calls in flight, and is refused (logging dropped)
// when calls of several sessions are in flight, rather than risk handing it to the wrong one.
public sealed class UpstreamConnection : IAsyncDisposable
{
    private static readonly TimeSpan MaximumBackoff = TimeSpan.FromSeconds(30);

    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Func<UpstreamConnection, CancellationToken, Task> _discovered;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _discovery = new(1, 1);
    private readonly ConcurrentDictionary<long, RelayTarget> _inFlight = new();
    private readonly ConcurrentDictionary<string, Lazy<Task<SessionChannel>>> _sessions = new(StringComparer.Ordinal);
    private long _callIds;
    private int _disposed;
    private Task? _run;
    private TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public UpstreamConnection(string name, McpServerConfig config, double refreshSeconds, ILoggerFactory loggers, TimeProvider time,
        Func<UpstreamConnection, CancellationToken, Task> discovered)
    {
        Name = name;
        Config = config;
        RefreshInterval = TimeSpan.FromSeconds(refreshSeconds);
        _loggers = loggers;
        _logger = loggers.CreateLogger("Gateway.Mcp.Upstream");
        _time = time;
        _discovered = discovered;
    }

    public string Name { get; }

    public McpServerConfig Config { get; }

    public TimeSpan RefreshInterval { get; }

    public McpClient? Client { get; private set; }

    public UpstreamState State { get; private set; } = UpstreamState.Starting;

    public string? LastError { get; private set; }

    public int Restarts { get; private set; }

    public DateTimeOffset? ConnectedAt { get; private set; }

    public DateTimeOffset? DiscoveredAt { get; private set; }

    public IReadOnlyList<Tool> Tools { get; private set; } = [];

    public IReadOnlyList<Prompt> Prompts { get; private set; } = [];

    public IReadOnlyList<Resource> Resources { get; private set; } = [];

    public IReadOnlyList<ResourceTemplate> ResourceTemplates { get; private set; } = [];

    public string? ServerName => Client?.ServerInfo?.Name;

    public string? ServerVersion => Client?.ServerInfo?.Version;

    public void Start() => _run = Task.Run(() => SuperviseAsync(_stop.Token));

    // Completes when the first connection and discovery are done (or the timeout passes).
    public Task WaitConnectedAsync(TimeSpan timeout, CancellationToken cancellationToken)
        => _connected.Task.WaitAsync(timeout, _time, cancellationToken);

    private async Task SuperviseAsync(CancellationToken stopping)
    {
        var attempt = 0;
        while (!stopping.IsCancellationRequested)
        {
            McpClient? client = null;
            try
            {
                client = await ConnectAsync(_inFlight, discovery: true, stopping);
                Client = client;
                ConnectedAt = _time.GetUtcNow();
                await RefreshAsync(stopping);
                State = UpstreamState.Healthy;
                LastError = null;
                attempt = 0;
                McpLog.Connected(_logger, Name, Tools.Count);
                _connected.TrySetResult();
                // Periodic refresh until the session ends (the process exits, the HTTP session is lost).
                using var refresh = new PeriodicTimer(RefreshInterval, _time);
                var ended = client.Completion;
                while (!stopping.IsCancellationRequested)
                {
                    var tick = refresh.WaitForNextTickAsync(stopping).AsTask();
                    if (await Task.WhenAny(ended, tick) == ended)
                    {
                        break;
                    }
                    await RefreshAsync(stopping);
                }
                if (stopping.IsCancellationRequested)
                {
                    break;
                }
                LastError = "the server closed the session";
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception error)
            {
                LastError = error.Message;
            }
            finally
            {
                if (client is not null)
                {
                    Client = null;
                    await DisposeQuietlyAsync(client);
                }
            }
            FailInFlight();
            State = UpstreamState.Restarting;
            Restarts++;
            attempt++;
            var delay = TimeSpan.FromMilliseconds(Math.Min(MaximumBackoff.TotalMilliseconds, 100 * Math.Pow(2, Math.Min(attempt - 1, 10))));
            McpLog.Restarting(_logger, null, Name, attempt, (long)delay.TotalMilliseconds);
            try
            {
                await Task.Delay(delay, _time, stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        State = UpstreamState.Stopped;
    }

    private async Task<McpClient> ConnectAsync(ConcurrentDictionary<long, RelayTarget> inFlight, bool discovery, CancellationToken cancellationToken)
    {
        IClientTransport transport = Config.Transport == "stdio"
            ? new StdioClientTransport(new StdioClientTransportOptions
            {
                Name = Name,
                Command = Config.Command!,
                Arguments = Config.Args,
                EnvironmentVariables = Config.Env.ToDictionary(e => e.Key, e => (string?)e.Value),
                WorkingDirectory = Config.WorkingDirectory,
                ShutdownTimeout = TimeSpan.FromSeconds(2),
            }, _loggers)
            : new HttpClientTransport(new HttpClientTransportOptions
            {
                Name = Name,
                Endpoint = new Uri(Config.Url!),
                TransportMode = HttpTransportMode.StreamableHttp,
                AdditionalHeaders = new Dictionary<string, string>(Config.Headers),
            }, _loggers);
        var options = new McpClientOptions
        {
            ClientInfo = new Implementation { Name = "ai-gateway", Version = "1.0.0" },
            Capabilities = new ClientCapabilities
            {
                Sampling = new SamplingCapability(),
                Elicitation = new ElicitationCapability { Form = new FormElicitationCapability() },
            },
            Handlers = new McpClientHandlers
            {
                SamplingHandler = (request, _, ct) => RelaySampleAsync(inFlight, request!, ct),
                ElicitationHandler = (request, ct) => RelayElicitAsync(inFlight, request!, ct),
                // Per-session channels leave discovery to the shared one.
                NotificationHandlers = discovery
                    ?
                    [
                        new(NotificationMethods.ToolListChangedNotification, (_, _) => ListChanged()),
                        new(NotificationMethods.PromptListChangedNotification, (_, _) => ListChanged()),
                        new(NotificationMethods.ResourceListChangedNotification, (_, _) => ListChanged()),
                    ]
                    : [],
            },
        };
        return await McpClient.CreateAsync(new ObservedClientTransport(transport, message => Observe(inFlight, message)), options, _loggers, cancellationToken);
    }

    private ValueTask ListChanged()
    {
        _ = Task.Run(async () =>
        {
            try
            {
                await RefreshAsync(_stop.Token);
            }
            catch (Exception error) when (error is not OperationCanceledException)
            {
                McpLog.DiscoveryFailed(_logger, error, Name);
            }
        });
        return ValueTask.CompletedTask;
    }

    // Lists tools, prompts and resources and hands them to the catalogue.
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var client = Client ?? throw new McpException($"MCP server '{Name}' is not connected.");
        await _discovery.WaitAsync(cancellationToken);
        try
        {
            var capabilities = client.ServerCapabilities;
            Tools = capabilities.Tools is null ? [] : await PagesAsync(c => client.ListToolsAsync(new ListToolsRequestParams { Cursor = c }, cancellationToken), r => (r.Tools, r.NextCursor));
            Prompts = capabilities.Prompts is null ? [] : await PagesAsync(c => client.ListPromptsAsync(new ListPromptsRequestParams { Cursor = c }, cancellationToken), r => (r.Prompts, r.NextCursor));
            Resources = capabilities.Resources is null ? [] : await PagesAsync(c => client.ListResourcesAsync(new ListResourcesRequestParams { Cursor = c }, cancellationToken), r => (r.Resources, r.NextCursor));
            ResourceTemplates = capabilities.Resources is null ? [] : await PagesAsync(c => client.ListResourceTemplatesAsync(new ListResourceTemplatesRequestParams { Cursor = c }, cancellationToken), r => (r.ResourceTemplates, r.NextCursor));
            DiscoveredAt = _time.GetUtcNow();
            await _discovered(this, cancellationToken);
        }
        finally
        {
            _discovery.Release();
        }
    }

    private static async Task<IReadOnlyList<T>> PagesAsync<T, TResult>(Func<string?, ValueTask<TResult>> list, Func<TResult, (IList<T> Items, string? Next)> read)
    {
        var all = new List<T>();
        string? cursor = null;
        for (var page = 0; page < 100; page++)
        {
            var (items, next) = read(await list(cursor));
            all.AddRange(items);
            if (string.IsNullOrEmpty(next))
            {
                break;
            }
            cursor = next;
        }
        return all;
    }

    // Calls a tool upstream on behalf of a downstream session; progress, logging, sampling and elicitation
    // that the upstream sends meanwhile are relayed to `target`.
    public async Task<CallToolResult> CallToolAsync(string tool, IDictionary<string, JsonElement>? arguments, RelayTarget target, CancellationToken cancellationToken)
    {
        var session = Config.Transport != "stdio" && target.SessionId is { Length: > 0 } id ? await SessionAsync(id, cancellationToken) : null;
        var client = session?.Client ?? Connected();
        var inFlight = session?.InFlight ?? _inFlight;
        var call = Interlocked.Increment(ref _callIds);
        var request = new CallToolRequestParams { Name = tool, Arguments = arguments };
        if (target.ProgressToken is not null)
        {
            target.UpstreamToken = $"gw-{Name}-{call}";
            request.Meta = new System.Text.Json.Nodes.JsonObject { ["progressToken"] = target.UpstreamToken };
        }
        inFlight[call] = target;
        try
        {
            return await client.CallToolAsync(request, cancellationToken);
        }
        catch (Exception error) when (session is not null && error is IOException or HttpRequestException or ObjectDisposedException or InvalidOperationException)
        {
            // The upstream session is gone (server restarted, session expired): the next call opens a new one.
            await CloseSessionAsync(target.SessionId!);
            throw;
        }
        finally
        {
            inFlight.TryRemove(call, out _);
            await target.DrainAsync();
        }
    }

    // The upstream session of one downstream session (Streamable HTTP only), opened on its first call.
    private sealed record SessionChannel(McpClient Client, ConcurrentDictionary<long, RelayTarget> InFlight);

    private async Task<SessionChannel> SessionAsync(string sessionId, CancellationToken cancellationToken)
    {
        var channel = _sessions.GetOrAdd(sessionId, _ => new Lazy<Task<SessionChannel>>(async () =>
        {
            var inFlight = new ConcurrentDictionary<long, RelayTarget>();
            return new SessionChannel(await ConnectAsync(inFlight, discovery: false, _stop.Token), inFlight);
        }));
        try
        {
            return await channel.Value.WaitAsync(cancellationToken);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            _sessions.TryRemove(new KeyValuePair<string, Lazy<Task<SessionChannel>>>(sessionId, channel));
            throw new UpstreamUnavailableException($"MCP server '{Name}' refused a new session: {error.Message}");
        }
    }

    // The downstream session ended: its upstream session ends too.
    public async Task CloseSessionAsync(string sessionId)
    {
        if (_sessions.TryRemove(sessionId, out var channel) && channel.IsValueCreated && channel.Value.IsCompletedSuccessfully)
        {
            await DisposeQuietlyAsync((await channel.Value).Client);
        }
    }

    public async Task<GetPromptResult> GetPromptAsync(GetPromptRequestParams request, CancellationToken cancellationToken)
        => await Connected().GetPromptAsync(request, cancellationToken);

    public async Task<ReadResourceResult> ReadResourceAsync(ReadResourceRequestParams request, CancellationToken cancellationToken)
        => await Connected().ReadResourceAsync(request, cancellationToken);

    private McpClient Connected() => Client ?? throw new UpstreamUnavailableException($"MCP server '{Name}' is not connected (state: {State}).");

    private static void Observe(ConcurrentDictionary<long, RelayTarget> inFlight, JsonRpcMessage message)
    {
        if (message is JsonRpcNotification { Method: NotificationMethods.ProgressNotification } progress)
        {
            RelayProgress(inFlight, progress);
        }
        else if (message is JsonRpcNotification { Method: NotificationMethods.LoggingMessageNotification } log)
        {
            RelayLog(inFlight, log);
        }
    }

    private static void RelayProgress(ConcurrentDictionary<long, RelayTarget> inFlight, JsonRpcNotification notification)
    {
        var progress = notification.Params?.Deserialize<ProgressNotificationParams>(McpJsonUtilities.DefaultOptions);
        if (progress is null)
        {
            return;
        }
        var token = progress.ProgressToken.Token?.ToString();
        foreach (var target in inFlight.Values)
        {
            if (target.UpstreamToken == token)
            {
                target.Enqueue(progress);
            }
        }
    }

    private static void RelayLog(ConcurrentDictionary<long, RelayTarget> inFlight, JsonRpcNotification notification)
    {
        var log = notification.Params?.Deserialize<LoggingMessageNotificationParams>(McpJsonUtilities.DefaultOptions);
        if (log is not null && Owner(inFlight) is { } target)
        {
            target.Enqueue(log);
        }
    }

    // The newest call in flight, when every call in flight belongs to one downstream session; null when there
    // is none, or when calls of several sessions are in flight (only possible on a shared stdio session).
    private static RelayTarget? Owner(ConcurrentDictionary<long, RelayTarget> inFlight)
    {
        var best = -1L;
        RelayTarget? found = null;
        foreach (var (id, target) in inFlight)
        {
            if (found is not null && target.SessionId != found.SessionId)
            {
                return null;
            }
            if (id > best)
            {
                best = id;
                found = target;
            }
        }
        return found;
    }

    private async ValueTask<CreateMessageResult> RelaySampleAsync(ConcurrentDictionary<long, RelayTarget> inFlight, CreateMessageRequestParams request, CancellationToken cancellationToken)
        => await Requester(inFlight, "Sampling").SampleAsync(request, cancellationToken);

    private async ValueTask<ElicitResult> RelayElicitAsync(ConcurrentDictionary<long, RelayTarget> inFlight, ElicitRequestParams request, CancellationToken cancellationToken)
        => await Requester(inFlight, "Elicitation").ElicitAsync(request, cancellationToken);

    private RelayTarget Requester(ConcurrentDictionary<long, RelayTarget> inFlight, string what)
    {
        if (inFlight.IsEmpty)
        {
            throw new McpException($"{what} is only relayed during a tool call made through the gateway.");
        }
        return Owner(inFlight) ?? throw new McpException(
            $"{what} from MCP server '{Name}' cannot be attributed: calls of several clients are in flight on its one stdio session.");
    }

    private void FailInFlight()
    {
        foreach (var target in _inFlight.Values)
        {
            target.Complete();
        }
    }

    private static async Task DisposeQuietlyAsync(McpClient client)
    {
        try
        {
            await client.DisposeAsync();
        }
        catch (Exception error) when (error is IOException or InvalidOperationException or OperationCanceledException or ObjectDisposedException)
        {
            // The process already exited or the session is gone.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        await _stop.CancelAsync();
        if (_run is not null)
        {
            try
            {
                await _run;
            }
            catch (OperationCanceledException)
            {
            }
        }
        if (Client is { } client)
        {
            await DisposeQuietlyAsync(client);
        }
        foreach (var session in _sessions.Keys)
        {
            await CloseSessionAsync(session);
        }
        _stop.Dispose();
    }
}

public sealed class UpstreamUnavailableException(string message) : Exception(message);
