using System.Text.Json;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;
using static Gateway.Router.Providers.JsonRead;

namespace Gateway.Router.Providers.Bedrock;

// ConverseStream events -> neutral chunks, one stream at a time. Bedrock numbers content blocks of every
// kind; neutral tool-call deltas are numbered among tool calls only, so a block index maps to the call's
// ordinal. messageStop carries the stop reason, the metadata event after it the usage.
public sealed class BedrockStream(string id, string model, long created)
{
    private readonly Dictionary<int, int> _toolOrdinals = [];

    // messageStop arrived: the model finished as it intended.
    public bool Stopped { get; private set; }

    // The metadata event arrived: nothing more will follow.
    public bool Completed { get; private set; }

    public ChatChunk? Read(string eventType, JsonElement data)
    {
        switch (eventType)
        {
            case "messageStart":
                return Chunk(new Delta { Role = Role.Assistant });
            case "contentBlockStart":
                if (OptObject(OptObject(data, "start"), "toolUse") is not { ValueKind: JsonValueKind.Object } toolUse)
                {
                    return null;
                }
                var ordinal = _toolOrdinals.Count;
                _toolOrdinals[OptInt(data, "contentBlockIndex")] = ordinal;
                var start = new Delta();
                start.ToolCalls.Add(new ToolCallDelta { Index = ordinal, Id = OptString(toolUse, "toolUseId") ?? "", Name = OptString(toolUse, "name") ?? "" });
                return Chunk(start);
            case "contentBlockDelta":
                return BlockDelta(OptInt(data, "contentBlockIndex"), OptObject(data, "delta"));
            case "messageStop":
                Stopped = true;
                var finish = Chunk(new Delta());
                finish.Choices[0].FinishReason = BedrockCodec.ParseStopReason(OptString(data, "stopReason"));
                return finish;
            case "metadata":
                Completed = true;
                return new ChatChunk { Id = id, Model = model, Created = created, Usage = BedrockCodec.ReadUsage(OptObject(data, "usage")) };
            default:
                // contentBlockStop and event types added after this adapter was written.
                return null;
        }
    }

    private ChatChunk? BlockDelta(int index, JsonElement delta)
    {
        if (OptString(delta, "text") is { } text)
        {
            return Chunk(new Delta { Content = text });
        }
        if (OptObject(delta, "toolUse") is { ValueKind: JsonValueKind.Object } toolUse)
        {
            if (!_toolOrdinals.TryGetValue(index, out var ordinal))
            {
                return null;
            }
            var tool = new Delta();
            tool.ToolCalls.Add(new ToolCallDelta { Index = ordinal, Arguments = OptString(toolUse, "input") ?? "" });
            return Chunk(tool);
        }
        if (OptObject(delta, "reasoningContent") is { ValueKind: JsonValueKind.Object } reasoning)
        {
            var thinking = new Delta();
            if (OptString(reasoning, "text") is { } reasoningText)
            {
                thinking.Reasoning = reasoningText;
            }
            if (OptString(reasoning, "signature") is { } signature)
            {
                thinking.ReasoningSignature = signature;
            }
            return thinking.HasReasoning || thinking.HasReasoningSignature ? Chunk(thinking) : null;
        }
        return null;
    }

    private ChatChunk Chunk(Delta delta) => new()
    {
        Id = id,
        Model = model,
        Created = created,
        Choices = { new ChunkChoice { Index = 0, Delta = delta } },
    };
}
