using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Gateway.Common.Hosting;

public static class Listeners
{
    // gRPC over cleartext needs HTTP/2 only on its own port; REST, health and Dapr callbacks use HTTP/1.1 (and 2).
    // With `tls` the port speaks TLS (HTTP/2 negotiated by ALPN); with its client_ca, only clients presenting a
    // certificate signed by that CA get through (mTLS).
    public static void Listen(KestrelServerOptions kestrel, string endpoint, HttpProtocols protocols, ServerTlsConfig? tls = null)
    {
        var parsed = TryParse(endpoint) ?? throw new ArgumentException($"'{endpoint}' is not HOST:PORT (HOST an IP address, localhost or *).", nameof(endpoint));
        kestrel.Listen(parsed, listen =>
        {
            listen.Protocols = protocols;
            if (tls is null)
            {
                return;
            }
            listen.UseHttps(https =>
            {
                https.ServerCertificate = X509Certificate2.CreateFromPemFile(tls.Cert, tls.Key);
                if (tls.ClientCa is { } clientCa)
                {
                    var ca = X509CertificateLoader.LoadCertificateFromFile(clientCa);
                    https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                    https.ClientCertificateValidation = (certificate, _, errors) => TlsTrust.ChainsTo(certificate, ca, errors & ~SslPolicyErrors.RemoteCertificateChainErrors, X509RevocationMode.NoCheck);
                }
            });
        });
    }

    // Transport limits every port shares. Kestrel refuses what breaks them before any endpoint runs: oversized or
    // too many headers (431), headers still trickling in after the timeout (408, then the connection closes),
    // a body arriving slower than the minimum rate (408), more HTTP/2 streams than allowed (refused streams).
    public static void ApplyLimits(KestrelServerOptions kestrel, ServerLimitsConfig limits)
    {
        kestrel.AddServerHeader = false;
        kestrel.Limits.MaxRequestHeadersTotalSize = limits.MaxRequestHeaderBytes;
        kestrel.Limits.MaxRequestHeaderCount = limits.MaxRequestHeaders;
        kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(limits.RequestHeadersTimeoutSeconds);
        kestrel.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(limits.KeepAliveTimeoutSeconds);
        kestrel.Limits.MinRequestBodyDataRate = limits.MinRequestBodyBytesPerSecond > 0
            ? new MinDataRate(limits.MinRequestBodyBytesPerSecond, TimeSpan.FromSeconds(limits.MinRequestBodyGraceSeconds))
            : null;
        kestrel.Limits.Http2.MaxStreamsPerConnection = limits.Http2MaxStreamsPerConnection;
        // HTTP/2 compresses headers; the decoded list is held to the same budget as HTTP/1.1's.
        kestrel.Limits.Http2.MaxRequestHeaderFieldSize = Math.Min(limits.MaxRequestHeaderBytes, kestrel.Limits.Http2.MaxRequestHeaderFieldSize);
    }

    // `127.0.0.1:8080`, `[::1]:8080`, `localhost:8080`, `*:8080` or `0.0.0.0:8080`; null for anything else.
    public static IPEndPoint? TryParse(string endpoint)
    {
        var colon = endpoint.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(endpoint.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            return null;
        }
        var host = endpoint[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }
        var address = host switch
        {
            "localhost" => IPAddress.Loopback,
            "*" => IPAddress.Any,
            _ when host.Contains('.') || host.Contains(':') => IPAddress.TryParse(host, out var ip) ? ip : null,
            _ => null,
        };
        return address is null ? null : new IPEndPoint(address, port);
    }
}
