using System.Text;
using System.Text.Json;
using CsCheck;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;
using Gateway.Fuzz;
using Gateway.Router.Providers;
using Gateway.Router.Providers.OpenAI;

namespace Gateway.Router.Tests.Hostile;

// Properties of the parsers and translators over generated input (CsCheck shrinks any failure to a minimal case).
public sealed class ParserProperties
{
    private static readonly Gen<string> Text = Gen.String[Gen.Char.AlphaNumeric, 0, 20]
        .Select(Pick("", " ", "é", "世界", "😀", "\\", "\"", ":"), (a, b) => a + b);

    private static readonly Gen<(string? Event, string[] Lines)> Event =
        Gen.Select(Gen.OneOf(Gen.Const((string?)null), Gen.String[Gen.Char.AlphaNumeric, 1, 10].Select(s => (string?)s)), Text.Array[1, 4]);

    private static readonly Gen<string> LineEnd = Pick("\n", "\r\n", "\r");

    [Fact]
    public void SseReader_AnySplitOfAValidStream_GivesTheSameEvents()
    {
        Gen.Select(Event.Array[0, 8], LineEnd, Gen.Int[1, 64].Array[1, 40]).Sample((events, eol, cuts) =>
        {
            var text = new StringBuilder();
            foreach (var (name, lines) in events)
            {
                if (name is not null)
                {
                    text.Append("event: ").Append(name).Append(eol);
                }
                foreach (var line in lines)
                {
                    text.Append("data: ").Append(line).Append(eol);
                }
                text.Append(": comment").Append(eol).Append(eol);
            }
            var bytes = Encoding.UTF8.GetBytes(text.ToString());
            var read = Read(new SplitStream(bytes, cuts));
            Assert.Equal(events.Select(e => new SseEvent(e.Event, string.Join('\n', e.Lines))), read);
        });
    }

    [Fact]
    public void SseReader_ArbitraryBytes_NeverThrowsAnythingButItsParseError()
    {
        Gen.Select(Gen.Byte.Array[0, 512], Gen.Int[1, 64].Array[1, 10]).Sample((bytes, cuts) =>
        {
            try
            {
                Read(new SplitStream(bytes, cuts));
            }
            catch (InvalidDataException)
            {
            }
        });
    }

    [Theory]
    [InlineData("anthropic-sse")]
    [InlineData("gemini-sse")]
    [InlineData("bedrock-eventstream")]
    [InlineData("json-chat")]
    [InlineData("json-anthropic")]
    [InlineData("yaml-config")]
    public void Decoders_ArbitraryInput_OnlyTypedErrors(string target)
    {
        // Random bytes, and random edits of the seed corpus (which reach deeper than noise does).
        var seeds = Directory.GetFiles(Path.Combine(FuzzCorpusReplayTests.FuzzRoot(), "corpus", target)).Select(File.ReadAllBytes).ToArray();
        var mutated = Gen.Select(Gen.Int[0, seeds.Length - 1], Gen.Int[0, 4096].Array[1, 8], Gen.Byte.Array[1, 8])
            .Select((seed, positions, values) =>
            {
                var bytes = (byte[])seeds[seed].Clone();
                for (var i = 0; i < positions.Length && bytes.Length > 0; i++)
                {
                    bytes[positions[i] % bytes.Length] = values[i % values.Length];
                }
                return bytes;
            });
        Gen.OneOf(Gen.Byte.Array[0, 256], mutated).Sample(bytes => FuzzTargets.Run(target, bytes), iter: 2_000);
    }

    private static readonly Gen<ChatRequest> Request =
        Gen.Select(Gen.String[Gen.Char.AlphaNumeric, 1, 30], Gen.Select(Pick(Role.System, Role.User, Role.Assistant), Text).Array[1, 6],
            Gen.Double[0, 2].Nullable(), Gen.Int[1, 100_000].Nullable(), Gen.Bool)
        .Select((model, messages, temperature, maxTokens, includeUsage) =>
        {
            var request = new ChatRequest { Model = model };
            foreach (var (role, text) in messages)
            {
                request.Messages.Add(new Message { Role = role, Content = { new ContentPart { Text = text } } });
            }
            if (temperature is { } t)
            {
                request.Temperature = t;
            }
            if (maxTokens is { } m)
            {
                request.MaxTokens = m;
            }
            return request;
        });

    [Fact]
    public void OpenAiChatCodec_WriteThenRead_RoundTrips()
    {
        Request.Sample(request =>
        {
            var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                OpenAiChatCodec.WriteRequest(writer, request, request.Model, stream: false);
            }
            using var document = JsonDocument.Parse(buffer.ToArray());
            var read = OpenAiChatCodec.ReadRequest(document.RootElement, out var stream);

            Assert.False(stream);
            Assert.Equal(request.Model, read.Model);
            Assert.Equal(request.Messages.Select(m => (m.Role, m.Content[0].Text)), read.Messages.Select(m => (m.Role, string.Concat(m.Content.Select(c => c.Text)))));
            Assert.Equal(request.HasTemperature ? request.Temperature : null, read.HasTemperature ? read.Temperature : (double?)null);
            Assert.Equal(request.HasMaxTokens ? request.MaxTokens : null, read.HasMaxTokens ? read.MaxTokens : (int?)null);
        });
    }

    private static Gen<T> Pick<T>(params T[] values) => Gen.Int[0, values.Length - 1].Select(i => values[i]);

    private static List<SseEvent> Read(Stream stream)
    {
        var events = new List<SseEvent>();
        var enumerator = SseReader.ReadAsync(stream, CancellationToken.None).GetAsyncEnumerator();
        // Over an in-memory stream every read completes synchronously.
        while (enumerator.MoveNextAsync().AsTask().GetAwaiter().GetResult())
        {
            events.Add(enumerator.Current);
        }
        return events;
    }

    // A stream that hands out its bytes in reads of the given sizes, cycling through them.
    private sealed class SplitStream(byte[] bytes, int[] sizes) : Stream
    {
        private int _position;
        private int _read;

        public override int Read(byte[] buffer, int offset, int count)
        {
            var size = Math.Min(Math.Min(count, sizes[_read++ % sizes.Length]), bytes.Length - _position);
            Array.Copy(bytes, _position, buffer, offset, size);
            _position += size;
            return size;
        }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => bytes.Length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
