using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Gateway.Functional.Tests.BadInput;

// HTTP/1.1 over a raw socket: writes the whole request while reading the answer, and keeps the answer even
// when the server closes before the body is written (what a server must do with an oversized body).
public static class RawHttp
{
    public static async Task<HttpResponseMessage> SendAsync(Uri baseAddress, HttpRequestMessage request, byte[] body, bool chunked, CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(baseAddress.Host, baseAddress.Port, cancellationToken);
        var stream = client.GetStream();
        var head = new StringBuilder($"{request.Method} {request.RequestUri} HTTP/1.1\r\nHost: {baseAddress.Authority}\r\nConnection: close\r\n");
        foreach (var (name, values) in request.Headers.Where(h => h.Key != "Transfer-Encoding"))
        {
            head.Append(name).Append(": ").Append(string.Join(", ", values)).Append("\r\n");
        }
        head.Append("Content-Type: application/json\r\n");
        head.Append(chunked ? "Transfer-Encoding: chunked\r\n" : $"Content-Length: {body.Length}\r\n").Append("\r\n");
        var writing = WriteAsync(stream, Encoding.ASCII.GetBytes(head.ToString()), body, chunked, cancellationToken);
        using var received = new MemoryStream();
        try
        {
            await stream.CopyToAsync(received, cancellationToken);
        }
        catch (IOException)
        {
            // A reset after the answer: keep what arrived.
        }
        await writing;
        return Parse(received.ToArray());
    }

    private static async Task WriteAsync(NetworkStream stream, byte[] head, byte[] body, bool chunked, CancellationToken cancellationToken)
    {
        try
        {
            await stream.WriteAsync(head, cancellationToken);
            for (var offset = 0; offset < body.Length; offset += 64 * 1024)
            {
                var piece = body.AsMemory(offset, Math.Min(64 * 1024, body.Length - offset));
                if (chunked)
                {
                    await stream.WriteAsync(Encoding.ASCII.GetBytes($"{piece.Length:x}\r\n"), cancellationToken);
                }
                await stream.WriteAsync(piece, cancellationToken);
                if (chunked)
                {
                    await stream.WriteAsync("\r\n"u8.ToArray(), cancellationToken);
                }
            }
            if (chunked)
            {
                await stream.WriteAsync("0\r\n\r\n"u8.ToArray(), cancellationToken);
            }
        }
        catch (IOException)
        {
            // The server answered and closed before the whole body was written: expected for a refused body.
        }
    }

    private static HttpResponseMessage Parse(byte[] raw)
    {
        var text = Encoding.UTF8.GetString(raw);
        var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(split > 0, $"no HTTP response: {text[..Math.Min(200, text.Length)]}");
        var lines = text[..split].Split("\r\n");
        var response = new HttpResponseMessage((HttpStatusCode)int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture));
        var chunkedBody = false;
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var (name, value) = (line[..colon], line[(colon + 1)..].Trim());
            chunkedBody |= name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) && value == "chunked";
            response.Headers.TryAddWithoutValidation(name, value);
        }
        var body = text[(split + 4)..];
        response.Content = new StringContent(chunkedBody ? Dechunk(body) : body, Encoding.UTF8, "application/json");
        return response;
    }

    private static string Dechunk(string body)
    {
        var result = new StringBuilder();
        var position = 0;
        while (position < body.Length)
        {
            var end = body.IndexOf("\r\n", position, StringComparison.Ordinal);
            var size = Convert.ToInt32(body[position..end], 16);
            if (size == 0)
            {
                break;
            }
            result.Append(body, end + 2, size);
            position = end + 2 + size + 2;
        }
        return result.ToString();
    }
}
