using System.Text;
using Gateway.Router.Providers;

namespace Gateway.Router.Tests;

public sealed class SseReaderTests
{
    [Fact]
    public async Task ReadAsync_CrlfFramingAndSplitUtf8_YieldsWholeEvents()
    {
        var text = "event: message\r\ndata: {\"t\":\"h\u00e9llo \u4e16\u754c \ud83d\ude00\"}\r\n\r\n: keep-alive\r\ndata: line1\r\ndata: line2\r\n\r\n";
        // One byte per read: every multi-byte character and every CRLF is split across reads.
        var events = await ReadAll(new TrickleStream(Encoding.UTF8.GetBytes(text), chunkSize: 1));

        Assert.Equal(2, events.Count);
        Assert.Equal("message", events[0].Event);
        Assert.Equal("{\"t\":\"h\u00e9llo \u4e16\u754c \ud83d\ude00\"}", events[0].Data);
        Assert.Null(events[1].Event);
        Assert.Equal("line1\nline2", events[1].Data);
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("\r")]
    [InlineData("\r\n")]
    public async Task ReadAsync_AnyLineEnding_SplitsEvents(string eol)
    {
        var text = $"data: a{eol}{eol}data: b{eol}{eol}";
        var events = await ReadAll(new TrickleStream(Encoding.UTF8.GetBytes(text), chunkSize: 3));
        Assert.Equal(["a", "b"], events.Select(e => e.Data));
    }

    [Fact]
    public async Task ReadAsync_FinalEventWithoutBlankLine_IsStillDelivered()
    {
        var events = await ReadAll(new MemoryStream(Encoding.UTF8.GetBytes("data: [DONE]")));
        Assert.Equal("[DONE]", Assert.Single(events).Data);
    }

    private static async Task<List<SseEvent>> ReadAll(Stream stream)
    {
        var result = new List<SseEvent>();
        await foreach (var e in SseReader.ReadAsync(stream, TestContext.Current.CancellationToken))
        {
            result.Add(e);
        }
        return result;
    }
}
