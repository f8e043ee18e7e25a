using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Gateway.Common.Hosting;

public static class Listeners
{
    // gRPC over cleartext needs HTTP/2 only on its own port; REST, health and Dapr callbacks use HTTP/1.1 (and 2).
    public static void Listen(KestrelServerOptions kestrel, string endpoint, HttpProtocols protocols)
    {
        var colon = endpoint.LastIndexOf(':');
        var host = endpoint[..colon].Trim('[', ']');
        var port = int.Parse(endpoint.AsSpan(colon + 1), System.Globalization.CultureInfo.InvariantCulture);
        var address = host is "localhost" ? IPAddress.Loopback : host is "*" or "0.0.0.0" ? IPAddress.Any : IPAddress.Parse(host);
        kestrel.Listen(address, port, listen => listen.Protocols = protocols);
    }
}
