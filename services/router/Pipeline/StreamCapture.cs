using System.Text;
using Gateway.Contracts.Inference.V1;

namespace Gateway.Router.Pipeline;

// Assembles a streamed response into one chat.completion for the trace: per choice the text, refusal, tool calls
// (arguments accumulated from their deltas) and finish reason, plus the usage. Which text it keeps depends on
// the policy: `full` takes text and arguments from the chunks the client receives; `redacted` takes them from
// the stream guard (StreamGuard.Create hands it over), as the output guard let them through and before
// pseudonyms were restored. Without a stream guard the chunks already are that view. Bounded like every body.
internal sealed class StreamCapture(bool redacted)
{
    private readonly SortedDictionary<int, ChoiceState> _choices = [];
    private string _id = "";
    private string _model = "";
    private long _created;
    private Contracts.Common.V1.Usage? _usage;
    private int _chars;

    // Redacted, and a stream guard reports the guarded text: chunks then only give the structure.
    public bool FromGuard { get; private set; }

    public bool HasContent => _choices.Count > 0;

    // Called by StreamGuard.Create: a redacted capture takes its text from the guard (the view before pseudonyms
    // are restored); a full one keeps reading the client's chunks.
    public bool AttachGuard()
    {
        FromGuard = redacted;
        return FromGuard;
    }

    // One chunk as the client receives it (after the guard, pseudonyms restored).
    public void Observe(ChatChunk chunk)
    {
        if (_id.Length == 0)
        {
            (_id, _model, _created) = (chunk.Id, chunk.Model, chunk.Created);
        }
        _usage = chunk.Usage ?? _usage;
        foreach (var choice in chunk.Choices)
        {
            var state = State(choice.Index);
            if (choice.FinishReason != FinishReason.Unspecified)
            {
                state.FinishReason = choice.FinishReason;
                state.StopSequence = choice.StopSequence;
            }
            if (choice.Delta is not { } delta)
            {
                continue;
            }
            if (delta.HasRefusal)
            {
                Append(state.Refusal, delta.Refusal);
            }
            foreach (var call in delta.ToolCalls)
            {
                var tool = state.Tool(call.Index);
                tool.Id = call.Id.Length > 0 ? call.Id : tool.Id;
                tool.Name = call.Name.Length > 0 ? call.Name : tool.Name;
                if (!FromGuard)
                {
                    Append(tool.Arguments, call.Arguments);
                }
            }
            if (!FromGuard && delta.HasContent)
            {
                Append(state.Text, delta.Content);
            }
        }
    }

    // Text of a choice as the guard let it through (redacted view).
    public void GuardedText(int choice, string text) => Append(State(choice).Text, text);

    // Tool-call arguments as the guard let them through (redacted view).
    public void GuardedArguments(int choice, int tool, string arguments) => Append(State(choice).Tool(tool).Arguments, arguments);

    public ChatResponse ToResponse()
    {
        var response = new ChatResponse { Id = _id, Model = _model, Created = _created, Usage = _usage };
        foreach (var (index, state) in _choices)
        {
            var message = new Message { Role = Role.Assistant, Refusal = state.Refusal.ToString() };
            if (state.Text.Length > 0 || state.Tools is null)
            {
                message.Content.Add(new ContentPart { Text = state.Text.ToString() });
            }
            foreach (var (_, tool) in state.Tools ?? [])
            {
                message.ToolCalls.Add(new ToolCall { Id = tool.Id, Name = tool.Name, Arguments = tool.Arguments.ToString() });
            }
            response.Choices.Add(new Choice { Index = index, Message = message, FinishReason = state.FinishReason, StopSequence = state.StopSequence });
        }
        return response;
    }

    private void Append(StringBuilder target, string piece)
    {
        var room = RequestCapture.MaxBodyChars - _chars;
        if (room <= 0 || piece.Length == 0)
        {
            return;
        }
        var take = Math.Min(room, piece.Length);
        target.Append(piece, 0, take);
        _chars += take;
    }

    private ChoiceState State(int index)
    {
        if (!_choices.TryGetValue(index, out var state))
        {
            state = new ChoiceState();
            _choices[index] = state;
        }
        return state;
    }

    private sealed class ChoiceState
    {
        public StringBuilder Text { get; } = new();

        public StringBuilder Refusal { get; } = new();

        public FinishReason FinishReason { get; set; }

        public string StopSequence { get; set; } = "";

        public SortedDictionary<int, ToolState>? Tools { get; private set; }

        public ToolState Tool(int index)
        {
            Tools ??= [];
            if (!Tools.TryGetValue(index, out var tool))
            {
                tool = new ToolState();
                Tools[index] = tool;
            }
            return tool;
        }
    }

    private sealed class ToolState
    {
        public string Id { get; set; } = "";

        public string Name { get; set; } = "";

        public StringBuilder Arguments { get; } = new();
    }
}
