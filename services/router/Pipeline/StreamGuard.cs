using System.Text;
using Gateway.Contracts.Inference.V1;
using Gateway.Guard;

namespace Gateway.Router.Pipeline;

// The streaming side of the guard: per choice, text is (optionally) held until a line or a long run ends and
// scanned as output, then pseudonyms are restored with any half-received placeholder held back until the
// next chunk. Tool-call arguments get the same restoring per call; when output is scanned they are held until
// the choice ends and scanned whole (as a non-streamed response's are), since a value can span any number of
// deltas. What is held is flushed into the chunk that carries the choice's finish reason, or into one extra
// chunk at the end. A redacted trace capture is
// handed every piece between the scan and the restoring: what the guard let through, placeholders still in.
// Thinking (reasoning deltas) is held whole when output is scanned: a signed block (Anthropic) passes with its
// signature when the scan leaves it as it is and is dropped, text and signature, when the policy would rewrite
// it (a client sending back an altered signed block is refused upstream, as in non-streamed responses); an
// unsigned block is released rewritten once the choice moves on to its answer or ends. Pseudonyms are not
// restored in thinking, as in non-streamed responses.
internal enum StreamScan
{
    Text,
    ToolArguments,
    Reasoning,
}

internal sealed class StreamGuard
{
    // Output scanning releases text at a line break, or at a space once this much is waiting.
    private const int ScanWindow = 512;

    private readonly IReadOnlyDictionary<string, string>? _pseudonyms;
    // Scans released text, a call's complete arguments or a whole thinking block as output; returns what may pass.
    private readonly Func<string, StreamScan, CancellationToken, Task<string>>? _scan;
    private readonly StreamCapture? _capture;
    private readonly Dictionary<int, ChoiceState> _choices = [];

    private StreamGuard(IReadOnlyDictionary<string, string>? pseudonyms, Func<string, StreamScan, CancellationToken, Task<string>>? scan, StreamCapture? capture)
    {
        _pseudonyms = pseudonyms;
        _scan = scan;
        _capture = capture;
    }

    public static StreamGuard? Create(IReadOnlyDictionary<string, string>? pseudonyms, Func<string, StreamScan, CancellationToken, Task<string>>? scan, StreamCapture? capture = null)
        => pseudonyms is { Count: > 0 } || scan is not null
            ? new StreamGuard(pseudonyms is { Count: > 0 } ? pseudonyms : null, scan, capture?.AttachGuard() == true ? capture : null)
            : null;

    // Non-streaming responses: restore in message text and tool-call arguments.
    public static void Restore(ChatResponse response, IReadOnlyDictionary<string, string>? pseudonyms)
    {
        if (pseudonyms is not { Count: > 0 })
        {
            return;
        }
        foreach (var choice in response.Choices)
        {
            if (choice.Message is not { } message)
            {
                continue;
            }
            foreach (var part in message.Content)
            {
                if (part.PartCase == ContentPart.PartOneofCase.Text)
                {
                    part.Text = Pseudonyms.Restore(part.Text, pseudonyms);
                }
            }
            foreach (var call in message.ToolCalls)
            {
                call.Arguments = Pseudonyms.Restore(call.Arguments, pseudonyms, json: true);
            }
        }
    }

    public async ValueTask ApplyAsync(ChatChunk chunk, CancellationToken cancellationToken)
    {
        foreach (var choice in chunk.Choices)
        {
            var state = State(choice.Index);
            if (choice.Delta is { } delta)
            {
                if (_scan is not null)
                {
                    await HoldThinkingAsync(state, delta, cancellationToken);
                }
                if (delta.HasContent && delta.Content.Length > 0)
                {
                    delta.Content = await PushAsync(state, delta.Content, cancellationToken);
                }
                foreach (var call in delta.ToolCalls)
                {
                    if (call.Arguments.Length == 0)
                    {
                        continue;
                    }
                    if (_scan is not null)
                    {
                        state.HeldArguments(call.Index).Append(call.Arguments);
                        call.Arguments = "";
                        continue;
                    }
                    _capture?.GuardedArguments(choice.Index, call.Index, call.Arguments);
                    if (_pseudonyms is not null)
                    {
                        call.Arguments = state.Tool(call.Index, _pseudonyms).Push(call.Arguments);
                    }
                }
            }
            if (choice.FinishReason != FinishReason.Unspecified)
            {
                choice.Delta ??= new Delta();
                await FlushIntoAsync(state, choice.Delta, cancellationToken);
            }
        }
    }

    // After the upstream ended: whatever is still held, as one more chunk (null when nothing is).
    public async ValueTask<ChatChunk?> FinishAsync(ChatChunk first, CancellationToken cancellationToken)
    {
        ChatChunk? tail = null;
        foreach (var (index, state) in _choices)
        {
            var delta = new Delta();
            await FlushIntoAsync(state, delta, cancellationToken);
            if ((delta.HasContent && delta.Content.Length > 0) || delta.ToolCalls.Count > 0 || delta.HasReasoning)
            {
                tail ??= new ChatChunk { Id = first.Id, Model = first.Model, Created = first.Created };
                tail.Choices.Add(new ChunkChoice { Index = index, Delta = delta });
            }
        }
        return tail;
    }

    // Thinking text is held; a signature ends a signed block, anything else the choice carries ends an unsigned one.
    private async ValueTask HoldThinkingAsync(ChoiceState state, Delta delta, CancellationToken cancellationToken)
    {
        if (delta.HasReasoning)
        {
            (state.Thinking ??= new StringBuilder()).Append(delta.Reasoning);
            delta.ClearReasoning();
        }
        if (delta.HasReasoningSignature && delta.ReasoningSignature.Length > 0)
        {
            var held = state.Thinking?.ToString() ?? "";
            state.Thinking?.Clear();
            if (held.Length == 0)
            {
                return;
            }
            if (await _scan!(held, StreamScan.Reasoning, cancellationToken) == held)
            {
                delta.Reasoning = held;
            }
            else
            {
                delta.ClearReasoningSignature();
            }
            return;
        }
        if ((delta.HasContent && delta.Content.Length > 0) || delta.ToolCalls.Count > 0 || (delta.HasRefusal && delta.Refusal.Length > 0))
        {
            await ReleaseUnsignedThinkingAsync(state, delta, cancellationToken);
        }
    }

    private async ValueTask ReleaseUnsignedThinkingAsync(ChoiceState state, Delta delta, CancellationToken cancellationToken)
    {
        if (state.Thinking is not { Length: > 0 } thinking)
        {
            return;
        }
        var held = thinking.ToString();
        thinking.Clear();
        delta.Reasoning = await _scan!(held, StreamScan.Reasoning, cancellationToken);
    }

    private async ValueTask FlushIntoAsync(ChoiceState state, Delta delta, CancellationToken cancellationToken)
    {
        await ReleaseUnsignedThinkingAsync(state, delta, cancellationToken); // thinking is held only when scanning
        var text = new StringBuilder();
        if (state.Scan is { Length: > 0 } scan)
        {
            var held = scan.ToString();
            scan.Clear();
            text.Append(Restore(state, await _scan!(held, StreamScan.Text, cancellationToken)));
        }
        if (state.Restorer is { } restorer)
        {
            text.Append(restorer.Flush());
        }
        if (text.Length > 0)
        {
            delta.Content = (delta.HasContent ? delta.Content : "") + text;
        }
        foreach (var (index, held) in state.Held ?? [])
        {
            if (held.Length == 0)
            {
                continue;
            }
            var arguments = await _scan!(held.ToString(), StreamScan.ToolArguments, cancellationToken);
            held.Clear();
            _capture?.GuardedArguments(state.Index, index, arguments);
            delta.ToolCalls.Add(new ToolCallDelta { Index = index, Arguments = _pseudonyms is null ? arguments : Pseudonyms.Restore(arguments, _pseudonyms, json: true) });
        }
        if (state.Tools is { } tools)
        {
            foreach (var (index, stream) in tools)
            {
                var rest = stream.Flush();
                if (rest.Length > 0)
                {
                    delta.ToolCalls.Add(new ToolCallDelta { Index = index, Arguments = rest });
                }
            }
        }
    }

    private async ValueTask<string> PushAsync(ChoiceState state, string piece, CancellationToken cancellationToken)
    {
        if (_scan is null)
        {
            return Restore(state, piece);
        }
        var scan = state.Scan ??= new StringBuilder();
        scan.Append(piece);
        var release = ReleasePoint(scan);
        if (release == 0)
        {
            return "";
        }
        var ready = scan.ToString(0, release);
        scan.Remove(0, release);
        return Restore(state, await _scan(ready, StreamScan.Text, cancellationToken));
    }

    private string Restore(ChoiceState state, string text)
    {
        _capture?.GuardedText(state.Index, text);
        if (_pseudonyms is null)
        {
            return text;
        }
        state.Restorer ??= new PseudonymStream(_pseudonyms);
        return state.Restorer.Push(text);
    }

    // After the last line break; or, past the window, after the last space (entities do not span lines,
    // and the ones this could cut, like spaced card numbers, are far shorter than the window).
    private static int ReleasePoint(StringBuilder buffer)
    {
        for (var i = buffer.Length - 1; i >= 0; i--)
        {
            if (buffer[i] == '\n')
            {
                return i + 1;
            }
        }
        if (buffer.Length < ScanWindow)
        {
            return 0;
        }
        for (var i = buffer.Length - 1; i >= buffer.Length - ScanWindow / 2; i--)
        {
            if (buffer[i] == ' ')
            {
                return i + 1;
            }
        }
        return buffer.Length;
    }

    private ChoiceState State(int index)
    {
        if (!_choices.TryGetValue(index, out var state))
        {
            state = new ChoiceState(index);
            _choices[index] = state;
        }
        return state;
    }

    private sealed class ChoiceState(int index)
    {
        public int Index { get; } = index;

        public StringBuilder? Scan { get; set; }

        // Thinking text waiting for its block to end (see HoldThinkingAsync).
        public StringBuilder? Thinking { get; set; }

        public PseudonymStream? Restorer { get; set; }

        public Dictionary<int, PseudonymStream>? Tools { get; private set; }

        // Tool-call arguments waiting to be scanned whole, by call index.
        public SortedDictionary<int, StringBuilder>? Held { get; private set; }

        public StringBuilder HeldArguments(int index)
        {
            Held ??= [];
            if (!Held.TryGetValue(index, out var held))
            {
                held = new StringBuilder();
                Held[index] = held;
            }
            return held;
        }

        public PseudonymStream Tool(int index, IReadOnlyDictionary<string, string> pseudonyms)
        {
            Tools ??= [];
            if (!Tools.TryGetValue(index, out var stream))
            {
                stream = new PseudonymStream(pseudonyms, json: true);
                Tools[index] = stream;
            }
            return stream;
        }
    }
}
