using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.Router.Providers.Bedrock;

// AWS credentials as SigV4 uses them; `Expiration` is set for temporary ones (instance role, STS).
public sealed record AwsCredentials(string AccessKeyId, string SecretAccessKey, string? SessionToken, DateTimeOffset? Expiration = null)
{
    public override string ToString() => $"AwsCredentials {{ AccessKeyId = {AccessKeyId}, Expiration = {Expiration} }}";
}

// AWS Signature Version 4 (docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html),
// checked against AWS's published aws-sig-v4-test-suite vectors. The pieces are public so a verifier (the
// fake Bedrock in tests) can recompute a signature from a request exactly as it arrived.
public static class SigV4Signer
{
    public const string Algorithm = "AWS4-HMAC-SHA256";

    // Signs a request in place: adds X-Amz-Date, X-Amz-Security-Token (temporary credentials) and
    // Authorization. `body` must be the exact bytes the request will send.
    public static void Sign(HttpRequestMessage request, ReadOnlySpan<byte> body, AwsCredentials credentials, string region, string service, DateTimeOffset now)
    {
        var amzDate = now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        request.Headers.Remove("X-Amz-Date");
        request.Headers.TryAddWithoutValidation("X-Amz-Date", amzDate);
        var uri = request.RequestUri!;
        var headers = new List<(string Name, string Value)> { ("host", uri.IsDefaultPort ? uri.IdnHost : $"{uri.IdnHost}:{uri.Port}"), ("x-amz-date", amzDate) };
        if (request.Content?.Headers.ContentType is { } contentType)
        {
            headers.Add(("content-type", contentType.ToString()));
        }
        if (!string.IsNullOrEmpty(credentials.SessionToken))
        {
            request.Headers.Remove("X-Amz-Security-Token");
            request.Headers.TryAddWithoutValidation("X-Amz-Security-Token", credentials.SessionToken);
            headers.Add(("x-amz-security-token", credentials.SessionToken));
        }
        var (canonical, signedHeaders) = CanonicalRequest(request.Method.Method, uri.AbsolutePath, uri.Query.TrimStart('?'), headers, HexSha256(body));
        var scope = Scope(amzDate, region, service);
        var signature = Signature(credentials.SecretAccessKey, amzDate, region, service, StringToSign(amzDate, scope, canonical));
        request.Headers.TryAddWithoutValidation("Authorization", $"{Algorithm} Credential={credentials.AccessKeyId}/{scope}, SignedHeaders={signedHeaders}, Signature={signature}");
    }

    // Method, URI, query, headers and payload hash in the canonical form; returns it with the signed header
    // list. `path` and `query` are as they travel on the wire (already percent-encoded): services other than
    // S3 sign the path encoded once more.
    public static (string Canonical, string SignedHeaders) CanonicalRequest(string method, string path, string query, IEnumerable<(string Name, string Value)> headers, string payloadHashHex)
    {
        var grouped = headers
            .GroupBy(h => h.Name.ToLowerInvariant(), StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (Name: g.Key, Value: string.Join(',', g.Select(h => CanonicalValue(h.Value)))))
            .ToList();
        var signedHeaders = string.Join(';', grouped.Select(h => h.Name));
        var builder = new StringBuilder(512);
        builder.Append(method.ToUpperInvariant()).Append('\n');
        builder.Append(CanonicalUri(path)).Append('\n');
        builder.Append(CanonicalQuery(query)).Append('\n');
        foreach (var (name, value) in grouped)
        {
            builder.Append(name).Append(':').Append(value).Append('\n');
        }
        builder.Append('\n').Append(signedHeaders).Append('\n').Append(payloadHashHex);
        return (builder.ToString(), signedHeaders);
    }

    public static string Scope(string amzDate, string region, string service) => $"{amzDate[..8]}/{region}/{service}/aws4_request";

    public static string StringToSign(string amzDate, string scope, string canonicalRequest)
        => $"{Algorithm}\n{amzDate}\n{scope}\n{HexSha256(Encoding.UTF8.GetBytes(canonicalRequest))}";

    public static string Signature(string secretAccessKey, string amzDate, string region, string service, string stringToSign)
    {
        var key = HMACSHA256.HashData(Encoding.UTF8.GetBytes("AWS4" + secretAccessKey), Encoding.UTF8.GetBytes(amzDate[..8]));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(region));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(service));
        key = HMACSHA256.HashData(key, "aws4_request"u8);
        return Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(stringToSign)));
    }

    public static string HexSha256(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(SHA256.HashData(data));

    private static string CanonicalUri(string path)
    {
        if (path.Length == 0)
        {
            return "/";
        }
        return string.Join('/', path.Split('/').Select(segment => Encode(segment)));
    }

    private static string CanonicalQuery(string query)
    {
        if (query.Length == 0)
        {
            return "";
        }
        var pairs = query.Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair =>
            {
                var equals = pair.IndexOf('=');
                var name = equals < 0 ? pair : pair[..equals];
                var value = equals < 0 ? "" : pair[(equals + 1)..];
                return (Name: Encode(Uri.UnescapeDataString(name)), Value: Encode(Uri.UnescapeDataString(value)));
            })
            .OrderBy(p => p.Name, StringComparer.Ordinal)
            .ThenBy(p => p.Value, StringComparer.Ordinal);
        return string.Join('&', pairs.Select(p => $"{p.Name}={p.Value}"));
    }

    // Trimmed, with runs of spaces collapsed to one.
    private static string CanonicalValue(string value)
    {
        var builder = new StringBuilder(value.Length);
        var space = false;
        foreach (var c in value.Trim())
        {
            if (c == ' ')
            {
                if (!space)
                {
                    builder.Append(c);
                }
                space = true;
                continue;
            }
            space = false;
            builder.Append(c);
        }
        return builder.ToString();
    }

    // RFC 3986 percent-encoding of everything but the unreserved characters, over UTF-8, uppercase hex.
    private static string Encode(string value)
    {
        var builder = new StringBuilder(value.Length + 8);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            var c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~')
            {
                builder.Append(c);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }
        return builder.ToString();
    }
}
