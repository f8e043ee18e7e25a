using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Text;

namespace Gateway.Router.Providers.Bedrock;

// One message of an `application/vnd.amazon.eventstream` body: its string headers (`:message-type`,
// `:event-type`, `:exception-type`, `:content-type`) and its payload.
public sealed record EventStreamMessage(IReadOnlyDictionary<string, string> Headers, ReadOnlyMemory<byte> Payload)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
}

// Decodes AWS's binary event-stream framing: a 12-byte prelude (total length, headers length, CRC32 of the
// first 8 bytes), the headers, the payload, and a CRC32 of everything before it. Both checksums are checked;
// a frame may arrive in any number of reads. A malformed or truncated frame throws InvalidDataException.
public static class EventStreamReader
{
    private const int PreludeLength = 12;
    private const int MinimumMessage = PreludeLength + 4;

    // Bedrock's events are small; a frame claiming more is corrupt rather than a reason to allocate it.
    public const int MaximumMessage = 16 * 1024 * 1024;

    public static async IAsyncEnumerable<EventStreamMessage> ReadAsync(Stream stream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var prelude = new byte[PreludeLength];
        while (true)
        {
            var read = await stream.ReadAtLeastAsync(prelude, PreludeLength, throwOnEndOfStream: false, cancellationToken);
            if (read == 0)
            {
                yield break;
            }
            if (read < PreludeLength)
            {
                throw new InvalidDataException("The event stream ended inside a message prelude.");
            }
            var total = BinaryPrimitives.ReadUInt32BigEndian(prelude);
            var headersLength = BinaryPrimitives.ReadUInt32BigEndian(prelude.AsSpan(4));
            if (Crc32.HashToUInt32(prelude.AsSpan(0, 8)) != BinaryPrimitives.ReadUInt32BigEndian(prelude.AsSpan(8)))
            {
                throw new InvalidDataException("An event stream message failed its prelude checksum.");
            }
            if (total is < MinimumMessage or > MaximumMessage || headersLength > total - MinimumMessage)
            {
                throw new InvalidDataException($"An event stream message has impossible lengths (total {total}, headers {headersLength}).");
            }
            var message = new byte[total];
            prelude.CopyTo(message, 0);
            if (await stream.ReadAtLeastAsync(message.AsMemory(PreludeLength), (int)total - PreludeLength, throwOnEndOfStream: false, cancellationToken) < total - PreludeLength)
            {
                throw new InvalidDataException("The event stream ended inside a message.");
            }
            if (Crc32.HashToUInt32(message.AsSpan(0, (int)total - 4)) != BinaryPrimitives.ReadUInt32BigEndian(message.AsSpan((int)total - 4)))
            {
                throw new InvalidDataException("An event stream message failed its checksum.");
            }
            var headers = ReadHeaders(message.AsSpan(PreludeLength, (int)headersLength));
            var payloadStart = PreludeLength + (int)headersLength;
            yield return new EventStreamMessage(headers, message.AsMemory(payloadStart, (int)total - 4 - payloadStart));
        }
    }

    // Header: name length (1 byte), name, value type (1 byte), value. String-valued headers are kept; the
    // other types are skipped by their fixed or prefixed length.
    private static Dictionary<string, string> ReadHeaders(ReadOnlySpan<byte> span)
    {
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        while (span.Length > 0)
        {
            var nameLength = span[0];
            if (span.Length < 2 + nameLength)
            {
                throw Malformed();
            }
            var name = Encoding.UTF8.GetString(span.Slice(1, nameLength));
            var type = span[1 + nameLength];
            span = span[(2 + nameLength)..];
            int length;
            switch (type)
            {
                case 0 or 1:
                    length = 0;
                    break;
                case 2:
                    length = 1;
                    break;
                case 3:
                    length = 2;
                    break;
                case 4:
                    length = 4;
                    break;
                case 5 or 8:
                    length = 8;
                    break;
                case 9:
                    length = 16;
                    break;
                case 6 or 7:
                    if (span.Length < 2)
                    {
                        throw Malformed();
                    }
                    var valueLength = BinaryPrimitives.ReadUInt16BigEndian(span);
                    span = span[2..];
                    if (span.Length < valueLength)
                    {
                        throw Malformed();
                    }
                    if (type == 7)
                    {
                        headers[name] = Encoding.UTF8.GetString(span[..valueLength]);
                    }
                    length = valueLength;
                    break;
                default:
                    throw new InvalidDataException($"An event stream header has unknown value type {type}.");
            }
            if (span.Length < length)
            {
                throw Malformed();
            }
            span = span[length..];
        }
        return headers;
    }

    private static InvalidDataException Malformed() => new("An event stream message has malformed headers.");
}
