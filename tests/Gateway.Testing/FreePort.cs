using System.Net;
using System.Net.Sockets;

namespace Gateway.Testing;

public static class FreePort
{
    private static readonly HashSet<int> HandedOut = [];

    // A port nothing listens on now, and one this process has not handed out before: the OS may offer a port
    // again as soon as it is released, and two servers of one test must never be given the same one.
    public static int Get()
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            lock (HandedOut)
            {
                if (HandedOut.Add(port))
                {
                    return port;
                }
            }
        }
    }
}
