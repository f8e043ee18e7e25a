using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Gateway.Testing.Fakes;

// Encodes `application/vnd.amazon.eventstream` messages as AWS sends them: prelude (total length, headers
// length, CRC32 of those 8 bytes), string-typed headers, payload, CRC32 of the whole message.
public static class EventStreamWriter
{
    public static byte[] Encode(IEnumerable<(string Name, string Value)> headers, byte[] payload)
    {
        var headerBytes = new MemoryStream();
        Span<byte> length = stackalloc byte[2];
        foreach (var (name, value) in headers)
        {
            var nameBytes = Encoding.UTF8.GetBytes(name);
            var valueBytes = Encoding.UTF8.GetBytes(value);
            headerBytes.WriteByte((byte)nameBytes.Length);
            headerBytes.Write(nameBytes);
            headerBytes.WriteByte(7);
            BinaryPrimitives.WriteUInt16BigEndian(length, (ushort)valueBytes.Length);
            headerBytes.Write(length);
            headerBytes.Write(valueBytes);
        }
        var total = 12 + (int)headerBytes.Length + payload.Length + 4;
        var message = new byte[total];
        BinaryPrimitives.WriteUInt32BigEndian(message, (uint)total);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(4), (uint)headerBytes.Length);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(8), Crc32.HashToUInt32(message.AsSpan(0, 8)));
        headerBytes.ToArray().CopyTo(message, 12);
        payload.CopyTo(message, 12 + (int)headerBytes.Length);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(total - 4), Crc32.HashToUInt32(message.AsSpan(0, total - 4)));
        return message;
    }

    // A Bedrock ConverseStream event (`:message-type: event`).
    public static byte[] Event(string eventType, string json)
        => Encode([(":event-type", eventType), (":content-type", "application/json"), (":message-type", "event")], Encoding.UTF8.GetBytes(json));

    // A modeled exception in the stream (`:message-type: exception`), e.g. throttlingException.
    public static byte[] Exception(string exceptionType, string message)
        => Encode([(":exception-type", exceptionType), (":content-type", "application/json"), (":message-type", "exception")],
            Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(new { message })));
}
