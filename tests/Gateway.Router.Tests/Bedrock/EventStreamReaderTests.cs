using System.Text;
using Gateway.Router.Providers.Bedrock;
using Gateway.Testing.Fakes;

namespace Gateway.Router.Tests.Bedrock;

// The binary application/vnd.amazon.eventstream framing: lengths, both CRCs, headers, split reads.
public sealed class EventStreamReaderTests
{
    private static async Task<List<EventStreamMessage>> ReadAllAsync(Stream stream)
    {
        var messages = new List<EventStreamMessage>();
        await foreach (var message in EventStreamReader.ReadAsync(stream, TestContext.Current.CancellationToken))
        {
            messages.Add(message);
        }
        return messages;
    }

    [Fact]
    public async Task ReadAsync_AwsEmptyMessageVector_DecodesToNoHeadersAndNoPayload()
    {
        // The event-stream test suite's "empty_message": 16 bytes, prelude CRC 0x05c248eb, message CRC 0x7d98c8ff.
        var bytes = Convert.FromBase64String("AAAAEAAAAAAFwkjrfZjI/w==");

        var messages = await ReadAllAsync(new MemoryStream(bytes));

        var message = Assert.Single(messages);
        Assert.Empty(message.Headers);
        Assert.Equal(0, message.Payload.Length);
    }

    [Fact]
    public async Task ReadAsync_EncodedEvents_RoundTripHeadersAndPayload()
    {
        var bytes = EventStreamWriter.Event("contentBlockDelta", """{"contentBlockIndex":0,"delta":{"text":"Hé"}}""")
            .Concat(EventStreamWriter.Exception("throttlingException", "slow down")).ToArray();

        var messages = await ReadAllAsync(new MemoryStream(bytes));

        Assert.Equal(2, messages.Count);
        Assert.Equal("event", messages[0].Header(":message-type"));
        Assert.Equal("contentBlockDelta", messages[0].Header(":event-type"));
        Assert.Equal("application/json", messages[0].Header(":content-type"));
        Assert.Equal("""{"contentBlockIndex":0,"delta":{"text":"Hé"}}""", Encoding.UTF8.GetString(messages[0].Payload.Span));
        Assert.Equal("exception", messages[1].Header(":message-type"));
        Assert.Equal("throttlingException", messages[1].Header(":exception-type"));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(13)]
    public async Task ReadAsync_FramesSplitAcrossReads_AreReassembled(int chunkSize)
    {
        var bytes = Enumerable.Range(0, 5).SelectMany(i => EventStreamWriter.Event("contentBlockDelta", $$$"""{"delta":{"text":"{{{i}}}"}}""")).ToArray();

        var messages = await ReadAllAsync(new TrickleStream(bytes, chunkSize));

        Assert.Equal(["0", "1", "2", "3", "4"], messages.Select(m => Encoding.UTF8.GetString(m.Payload.Span)[18..19]));
    }

    [Fact]
    public async Task ReadAsync_PayloadByteFlipped_FailsTheMessageChecksum()
    {
        var bytes = EventStreamWriter.Event("messageStop", """{"stopReason":"end_turn"}""");
        bytes[^6] ^= 0x20;

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => ReadAllAsync(new MemoryStream(bytes)));

        Assert.Contains("failed its checksum", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAsync_LengthByteFlipped_FailsThePreludeChecksum()
    {
        var bytes = EventStreamWriter.Event("messageStop", """{"stopReason":"end_turn"}""");
        bytes[3] ^= 0x01;

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => ReadAllAsync(new MemoryStream(bytes)));

        Assert.Contains("prelude checksum", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(20)]
    public async Task ReadAsync_StreamEndsInsideAFrame_IsAnError(int cut)
    {
        var bytes = EventStreamWriter.Event("messageStart", """{"role":"assistant"}""");

        await Assert.ThrowsAsync<InvalidDataException>(() => ReadAllAsync(new MemoryStream(bytes[..cut])));
    }

    [Fact]
    public async Task ReadAsync_EmptyBody_YieldsNothing()
        => Assert.Empty(await ReadAllAsync(new MemoryStream()));
}
