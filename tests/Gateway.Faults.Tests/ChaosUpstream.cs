using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Gateway.Faults.Tests;

// What a broken provider does with a request it has read off the socket.
public enum UpstreamFault
{
    // Nothing listens on the port: connection refused.
    Down,
    // Reads the request, then resets the connection (RST) without a byte of response.
    ResetBeforeResponse,
    // Sends the status line, headers and part of the JSON body it promised, then resets.
    ResetMidBody,
    // Accepts and reads, then never answers.
    Silent,
    // Sends the status line, headers and part of the body it promised, then nothing more (the socket stays open).
    StallMidBody,
    // A 200 whose body is not JSON at all.
    NonJson200,
    // A 200 that says application/json and ends, by its own Content-Length, in the middle of the object.
    TruncatedJson200,
    // A 200 with text/html: a captive portal or a misrouted proxy.
    Html200,
    // A load balancer's HTML error page.
    HtmlBadGateway502,
    // Streams: a 200 text/event-stream, then a reset before any event.
    StreamResetBeforeFirstEvent,
    // Streams: a 200 text/event-stream whose first event is not JSON.
    StreamGarbageEvent,
    // Streams: two well-formed chunks, then a reset.
    StreamResetAfterTwoChunks,
}

// A provider on a real loopback socket that misbehaves at the TCP and HTTP level the way Kestrel-based fakes
// cannot (resets with SO_LINGER 0, lying Content-Length, raw bytes). Every connection gets the same fault.
public sealed class ChaosUpstream : IAsyncDisposable
{
    private readonly TcpListener? _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _open = [];
    private readonly Task _accepting = Task.CompletedTask;
    private int _connections;

    private ChaosUpstream(UpstreamFault fault)
    {
        Fault = fault;
        if (fault == UpstreamFault.Down)
        {
            Url = new Uri($"http://127.0.0.1:{FreePort.Get()}/");
            return;
        }
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Url = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
        _accepting = AcceptLoopAsync();
    }

    public UpstreamFault Fault { get; }

    public Uri Url { get; }

    // Connections accepted (a request reached the broken provider).
    public int Connections => Volatile.Read(ref _connections);

    public static ChaosUpstream Start(UpstreamFault fault) => new(fault);

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener!.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            Interlocked.Increment(ref _connections);
            lock (_open)
            {
                _open.Add(socket);
            }
            _ = ServeAsync(socket);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        try
        {
            await ReadRequestAsync(socket, _stop.Token);
            await MisbehaveAsync(socket, _stop.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // The gateway gave up on us first: that is what the fault is for.
        }
        finally
        {
            socket.Dispose();
        }
    }

    private async Task MisbehaveAsync(Socket socket, CancellationToken cancellationToken)
    {
        switch (Fault)
        {
            case UpstreamFault.ResetBeforeResponse:
                Reset(socket);
                return;
            case UpstreamFault.ResetMidBody:
                await SendAsync(socket, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{\"id\":\"chatcmpl-chaos\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"half", cancellationToken);
                await SettleAsync(cancellationToken);
                Reset(socket);
                return;
            case UpstreamFault.Silent:
                await Task.Delay(Timeout.Infinite, cancellationToken);
                return;
            case UpstreamFault.StallMidBody:
                await SendAsync(socket, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{\"id\":\"chatcmpl-chaos\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,", cancellationToken);
                await Task.Delay(Timeout.Infinite, cancellationToken);
                return;
            case UpstreamFault.NonJson200:
                await RespondAsync(socket, "200 OK", "application/json", "Service temporarily degraded, please try again", cancellationToken);
                return;
            case UpstreamFault.TruncatedJson200:
                await RespondAsync(socket, "200 OK", "application/json", "{\"id\":\"chatcmpl-chaos\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"cut", cancellationToken);
                return;
            case UpstreamFault.Html200:
                await RespondAsync(socket, "200 OK", "text/html; charset=utf-8", "<!DOCTYPE html><html><head><title>Sign in to the network</title></head><body><form>...</form></body></html>", cancellationToken);
                return;
            case UpstreamFault.HtmlBadGateway502:
                await RespondAsync(socket, "502 Bad Gateway", "text/html", "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", cancellationToken);
                return;
            case UpstreamFault.StreamResetBeforeFirstEvent:
                await SendAsync(socket, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n", cancellationToken);
                await SettleAsync(cancellationToken);
                Reset(socket);
                return;
            case UpstreamFault.StreamGarbageEvent:
                await SendAsync(socket, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n" + "data: <html>upstream exploded</html>\n\n", cancellationToken);
                socket.Shutdown(SocketShutdown.Send);
                await SettleAsync(cancellationToken);
                return;
            case UpstreamFault.StreamResetAfterTwoChunks:
                await SendAsync(socket, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                    + Chunk("""{"role":"assistant","content":""}""") + Chunk("""{"content":"Par"}""") + Chunk("""{"content":"tial"}"""), cancellationToken);
                await SettleAsync(cancellationToken);
                Reset(socket);
                return;
            default:
                throw new InvalidOperationException($"no behaviour for {Fault}");
        }
    }

    private static string Chunk(string delta)
        => "data: {\"id\":\"chatcmpl-chaos\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":" + delta + ",\"finish_reason\":null}]}\n\n";

    // Lets the bytes already written reach the gateway before the reset discards whatever it has not read.
    private static Task SettleAsync(CancellationToken cancellationToken) => Task.Delay(150, cancellationToken);

    // SO_LINGER 0: closing sends RST instead of FIN.
    private static void Reset(Socket socket)
    {
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();
    }

    private static async Task RespondAsync(Socket socket, string status, string contentType, string body, CancellationToken cancellationToken)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        await SendAsync(socket, $"HTTP/1.1 {status}\r\nContent-Type: {contentType}\r\nContent-Length: {bytes.Length}\r\nConnection: close\r\n\r\n{body}", cancellationToken);
        socket.Shutdown(SocketShutdown.Send);
    }

    private static async Task SendAsync(Socket socket, string text, CancellationToken cancellationToken)
        => await socket.SendAsync(Encoding.UTF8.GetBytes(text), SocketFlags.None, cancellationToken);

    // Headers up to the blank line, then the body by Content-Length or chunked framing.
    private static async Task ReadRequestAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new List<byte>(8192);
        var chunk = new byte[8192];
        int headerEnd;
        while ((headerEnd = IndexOf(buffer, "\r\n\r\n"u8)) < 0)
        {
            var read = await socket.ReceiveAsync(chunk, SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                throw new IOException("the client closed before sending a request");
            }
            buffer.AddRange(chunk.AsSpan(0, read));
        }
        var headers = Encoding.ASCII.GetString([.. buffer[..headerEnd]]);
        var bodyStart = headerEnd + 4;
        var lengthLine = headers.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
        bool Complete() => lengthLine is not null
            ? buffer.Count - bodyStart >= int.Parse(lengthLine["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture)
            : !headers.Contains("chunked", StringComparison.OrdinalIgnoreCase) || IndexOf(buffer, "\r\n0\r\n\r\n"u8) >= 0;
        while (!Complete())
        {
            var read = await socket.ReceiveAsync(chunk, SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                throw new IOException("the client closed mid-request");
            }
            buffer.AddRange(chunk.AsSpan(0, read));
        }
    }

    private static int IndexOf(List<byte> buffer, ReadOnlySpan<byte> needle)
        => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(buffer).IndexOf(needle);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener?.Stop();
        lock (_open)
        {
            foreach (var socket in _open)
            {
                socket.Dispose();
            }
        }
        await _accepting;
        _stop.Dispose();
    }
}
