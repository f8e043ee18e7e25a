using System.Globalization;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Gateway.Common.Hosting;

// server.limits.max_request_header_bytes / max_request_headers, enforced where the answer can have the route's
// error shape. Kestrel refuses oversized headers itself, before any middleware runs, with a bare 431; so on a
// port whose middleware checks the configured limits, Kestrel's own limits sit at a ceiling of twice the
// configured ones, and only a request past that ceiling still gets the bare 431.
public static class HeaderLimits
{
    public const int CeilingFactor = 2;

    // Bytes a header line costs besides its name and value: ": " and CRLF, as on the HTTP/1.1 wire.
    private const int LineOverhead = 4;

    public static void RaiseToCeiling(KestrelServerOptions kestrel, ServerLimitsConfig limits)
    {
        kestrel.Limits.MaxRequestHeadersTotalSize = limits.MaxRequestHeaderBytes * CeilingFactor;
        kestrel.Limits.MaxRequestHeaderCount = limits.MaxRequestHeaders * CeilingFactor;
        // HTTP/2: one decoded header field, at most Kestrel's default (16 KiB), as in Listeners.ApplyLimits.
        kestrel.Limits.Http2.MaxRequestHeaderFieldSize = Math.Min(limits.MaxRequestHeaderBytes * CeilingFactor, 16 * 1024);
    }

    // The refusal for headers over the configured limits (every value of a repeated header counts as a line),
    // or null when they fit.
    public static GatewayException? Check(IHeaderDictionary headers, ServerLimitsConfig limits)
    {
        long bytes = 0;
        var count = 0;
        foreach (var (name, values) in headers)
        {
            foreach (var value in values)
            {
                count++;
                bytes += name.Length + (value?.Length ?? 0) + LineOverhead;
            }
        }
        if (count > limits.MaxRequestHeaders)
        {
            return new GatewayException(ErrorKind.RequestHeadersTooLarge, string.Create(CultureInfo.InvariantCulture,
                $"The request has {count} header lines; the limit is {limits.MaxRequestHeaders} (server.limits.max_request_headers)."));
        }
        if (bytes > limits.MaxRequestHeaderBytes)
        {
            return new GatewayException(ErrorKind.RequestHeadersTooLarge, string.Create(CultureInfo.InvariantCulture,
                $"The request headers take {bytes} bytes; the limit is {limits.MaxRequestHeaderBytes} (server.limits.max_request_header_bytes)."));
        }
        return null;
    }
}
