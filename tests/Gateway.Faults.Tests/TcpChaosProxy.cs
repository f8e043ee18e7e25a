using System.Net;
using System.Net.Sockets;

namespace Gateway.Faults.Tests;

// A TCP forwarder in front of a real server (Redis, PostgreSQL, ClickHouse): while it is "away" the port
// refuses connections and every open connection is reset, exactly what a crashed or partitioned server looks
// like to the gateway; "back" listens again on the same port. The server behind it keeps its data.
public sealed class TcpChaosProxy : IAsyncDisposable
{
    private readonly int _target;
    private readonly Lock _lock = new();
    private readonly List<Socket> _open = [];
    private TcpListener? _listener;
    private Task _accepting = Task.CompletedTask;

    public TcpChaosProxy(int targetPort)
    {
        _target = targetPort;
        Port = FreePort.Get();
        Listen();
    }

    public int Port { get; }

    public void SetAway()
    {
        lock (_lock)
        {
            _listener?.Stop();
            _listener = null;
            foreach (var socket in _open)
            {
                Reset(socket);
            }
            _open.Clear();
        }
    }

    public void SetBack() => Listen();

    private void Listen()
    {
        lock (_lock)
        {
            if (_listener is not null)
            {
                return;
            }
            var listener = new TcpListener(IPAddress.Loopback, Port);
            listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Start();
            _listener = listener;
            _accepting = AcceptAsync(listener);
        }
    }

    private async Task AcceptAsync(TcpListener listener)
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await listener.AcceptSocketAsync();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await server.ConnectAsync(IPAddress.Loopback, _target);
            }
            catch (SocketException)
            {
                client.Dispose();
                server.Dispose();
                continue;
            }
            lock (_lock)
            {
                if (!ReferenceEquals(_listener, listener))
                {
                    client.Dispose();
                    server.Dispose();
                    return;
                }
                _open.Add(client);
                _open.Add(server);
            }
            _ = PumpAsync(client, server);
            _ = PumpAsync(server, client);
        }
    }

    private static async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None);
                if (read == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // One side was reset (by SetAway or by the peer): the other side goes too.
            Reset(to);
        }
    }

    // SO_LINGER 0: the close is an RST. A socket the pumps already closed is left alone.
    private static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        SetAway();
        await _accepting;
    }
}
