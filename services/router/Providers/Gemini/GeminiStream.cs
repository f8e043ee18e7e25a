using System.Text;
using System.Text.Json;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;
using static Gateway.Router.Providers.JsonRead;

namespace Gateway.Router.Providers.Gemini;

// Turns streamGenerateContent events into neutral chunks. Each event is a whole GenerateContentResponse
// holding only the new parts, so the state kept is what cannot be seen in one event: whether a candidate
// already announced its role, how many calls it made (tool call index, ToolCalls finish) and whether it
// finished, plus the latest usage, sent once after every finish. `model` stands until Gemini names its version.
public sealed class GeminiStream(long created, string model)
{
    private readonly Dictionary<int, CandidateState> _candidates = [];
    private string _id = "";
    private string _model = model;
    private Usage? _usage;

    // True when every candidate that appeared has reported a finish reason.
    public bool Finished => _candidates.Count > 0 && _candidates.Values.All(c => c.Finished);

    public IReadOnlyList<ChatChunk> Read(JsonElement root)
    {
        _id = OptString(root, "responseId") ?? _id;
        _model = OptString(root, "modelVersion") ?? _model;
        if (OptObject(root, "usageMetadata") is { ValueKind: JsonValueKind.Object } usage)
        {
            _usage = GeminiCodec.ReadUsage(usage);
        }
        var content = NewChunk();
        var finish = NewChunk();
        var ordinal = 0;
        var sawCandidate = false;
        foreach (var candidate in OptArray(root, "candidates"))
        {
            sawCandidate = true;
            var index = GeminiCodec.CandidateIndex(candidate, ordinal++);
            if (!_candidates.TryGetValue(index, out var state))
            {
                _candidates[index] = state = new CandidateState();
            }
            var delta = ReadDelta(candidate, state);
            if (delta is not null)
            {
                content.Choices.Add(new ChunkChoice { Index = index, Delta = delta });
            }
            var reason = GeminiCodec.MapFinishReason(OptString(candidate, "finishReason"), state.Calls > 0);
            if (reason != FinishReason.Unspecified && !state.Finished)
            {
                state.Finished = true;
                // Its own chunk after the content, like OpenAI's, so the reason can account for every call.
                finish.Choices.Add(new ChunkChoice { Index = index, Delta = RoleOnce(new Delta(), state), FinishReason = reason });
            }
        }
        if (!sawCandidate && OptString(OptObject(root, "promptFeedback"), "blockReason") is { Length: > 0 })
        {
            throw GeminiCodec.NoCandidates(root);
        }
        var chunks = new List<ChatChunk>(2);
        if (content.Choices.Count > 0)
        {
            chunks.Add(content);
        }
        if (finish.Choices.Count > 0)
        {
            chunks.Add(finish);
        }
        return chunks;
    }

    // The usage chunk that closes the stream, once the provider has reported usage.
    public ChatChunk? UsageChunk()
    {
        if (_usage is null)
        {
            return null;
        }
        var chunk = NewChunk();
        chunk.Usage = _usage;
        return chunk;
    }

    private static Delta? ReadDelta(JsonElement candidate, CandidateState state)
    {
        var delta = new Delta();
        StringBuilder? text = null, thought = null;
        var any = false;
        foreach (var part in OptArray(OptObject(candidate, "content"), "parts"))
        {
            switch (GeminiCodec.ReadPart(part, state.Calls))
            {
                case (GeminiCodec.PartKind.Text, var piece, _) when piece.Length > 0:
                    (text ??= new StringBuilder()).Append(piece);
                    break;
                case (GeminiCodec.PartKind.Thought, var piece, _) when piece.Length > 0:
                    (thought ??= new StringBuilder()).Append(piece);
                    break;
                case (GeminiCodec.PartKind.Call, _, { } call):
                    // Gemini sends each call whole: one delta carries its id, name and all arguments.
                    delta.ToolCalls.Add(new ToolCallDelta { Index = state.Calls++, Id = call.Id, Name = call.Name, Arguments = call.Arguments });
                    any = true;
                    break;
            }
            if (OptString(part, "thoughtSignature") is { Length: > 0 } signature)
            {
                delta.ReasoningSignature = signature;
                any = true;
            }
        }
        if (text is not null)
        {
            delta.Content = text.ToString();
            any = true;
        }
        if (thought is not null)
        {
            delta.Reasoning = thought.ToString();
            any = true;
        }
        return any ? RoleOnce(delta, state) : null;
    }

    private static Delta RoleOnce(Delta delta, CandidateState state)
    {
        if (!state.RoleSent)
        {
            delta.Role = Role.Assistant;
            state.RoleSent = true;
        }
        return delta;
    }

    private ChatChunk NewChunk() => new() { Id = _id, Model = _model, Created = created };

    private sealed class CandidateState
    {
        public bool RoleSent { get; set; }

        public int Calls { get; set; }

        public bool Finished { get; set; }
    }
}
