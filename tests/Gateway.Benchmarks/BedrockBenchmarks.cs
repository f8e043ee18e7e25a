using BenchmarkDotNet.Attributes;
using Gateway.Common.Configuration;
using Gateway.Contracts.Inference.V1;
using Gateway.Router.Providers;
using Gateway.Router.Providers.Bedrock;
using Gateway.Testing.Fakes;

namespace Gateway.Benchmarks;

// Per-request work the Bedrock adapter adds: SigV4-signing a Converse request (canonical request, four
// HMACs, one SHA-256 of a 2 KB body) and decoding a 60-event ConverseStream answer (both CRCs per frame,
// JSON per event) into neutral chunks.
[MemoryDiagnoser]
public class BedrockBenchmarks
{
    private static readonly ProviderTarget Target = new("bedrock", new ProviderConfig { Kind = "bedrock", Region = "us-east-1" }, "anthropic.claude-3-5-haiku-20241022-v1:0", "claude");
    private static readonly AwsCredentials Credentials = new("AKIABENCHMARK0000001", "bench/secret/0123456789abcdefghijklmnop", "session-token");
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    private ReadOnlyMemory<byte> _body;
    private byte[] _stream = null!;

    [GlobalSetup]
    public void Setup()
    {
        var request = new ChatRequest { Messages = { new Message { Role = Role.User, Content = { new ContentPart { Text = new string('x', 2000) } } } } };
        _body = ProviderHttp.JsonBytes(w => BedrockCodec.WriteRequest(w, request));
        var frames = new List<byte[]> { EventStreamWriter.Event("messageStart", """{"role":"assistant"}""") };
        for (var i = 0; i < 60; i++)
        {
            frames.Add(EventStreamWriter.Event("contentBlockDelta", """{"contentBlockIndex":0,"delta":{"text":"token "},"p":"abcdefghijklmnop"}"""));
        }
        frames.Add(EventStreamWriter.Event("messageStop", """{"stopReason":"end_turn"}"""));
        frames.Add(EventStreamWriter.Event("metadata", """{"usage":{"inputTokens":500,"outputTokens":60,"totalTokens":560}}"""));
        _stream = frames.SelectMany(f => f).ToArray();
    }

    [Benchmark]
    public string SignConverseRequest()
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse")
        {
            Content = ProviderHttp.JsonContent(_body),
        };
        SigV4Signer.Sign(message, _body.Span, Credentials, "us-east-1", "bedrock", Now);
        return message.Headers.GetValues("Authorization").First();
    }

    [Benchmark]
    public async Task<int> DecodeConverseStream()
    {
        var count = 0;
        await foreach (var _ in BedrockProvider.ReadStreamAsync(Target, new MemoryStream(_stream), "req", 0, CancellationToken.None, CancellationToken.None))
        {
            count++;
        }
        return count;
    }
}
