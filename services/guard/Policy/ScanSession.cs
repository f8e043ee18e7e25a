using System.Text;
using Gateway.Contracts.Guard.V1;
using Gateway.Guard.Detection;
using GuardAction = Gateway.Contracts.Guard.V1.Action;

namespace Gateway.Guard.Policy;

// Applies one policy to every text of one request (or response): counts findings by type and action, rewrites
// texts for redact/pseudonymize, and keeps the per-request pseudonym table so the same value always gets
// the same placeholder.
internal sealed class ScanSession(CompiledPolicy policy, bool output)
{
    private readonly List<EntityMatch> _found = new(16);
    private readonly Dictionary<(string Type, GuardAction Action), int> _counts = [];
    private Dictionary<string, string>? _placeholders;
    private Dictionary<string, int>? _sequence;

    public CompiledPolicy Policy => policy;

    // Placeholder -> original value.
    public Dictionary<string, string> Pseudonyms { get; } = new(StringComparer.Ordinal);

    public List<ScanSpan>? Spans { get; set; }

    // The text to send instead, or null when nothing in it is rewritten.
    public string? Process(string text, bool threats)
    {
        if (text.Length == 0)
        {
            return null;
        }
        _found.Clear();
        policy.ScanCustom(text, _found);
        using (var anchors = TextAnchors.Find(text))
        {
            PiiScanner.Scan(text, anchors, _found);
            if (threats)
            {
                ScanThreats(text, anchors);
            }
        }
        StringBuilder? rewritten = null;
        var copied = 0;
        foreach (var detection in _found)
        {
            var action = policy.ActionFor(detection.Type, output);
            Spans?.Add(new ScanSpan { EntityType = detection.Type, Start = detection.Start, Length = detection.Length, Action = action });
            if (action == GuardAction.Allow)
            {
                continue;
            }
            Count(detection.Type, action);
            if (action is not (GuardAction.Redact or GuardAction.Pseudonymize))
            {
                continue;
            }
            rewritten ??= new StringBuilder(text.Length + 16);
            rewritten.Append(text, copied, detection.Start - copied);
            if (action == GuardAction.Redact)
            {
                rewritten.Append('[').Append(detection.Type).Append(']');
            }
            else
            {
                rewritten.Append(Placeholder(detection.Type, text.Substring(detection.Start, detection.Length)));
            }
            copied = detection.End;
        }
        if (rewritten is null)
        {
            return null;
        }
        rewritten.Append(text, copied, text.Length - copied);
        return rewritten.ToString();
    }

    private void ScanThreats(string text, TextAnchors anchors)
    {
        var injections = ThreatDetector.Injections(text, anchors);
        if (injections > 0)
        {
            Spans?.Add(new ScanSpan { EntityType = EntityTypes.Injection, Action = policy.Injection });
            if (policy.Injection != GuardAction.Allow)
            {
                Count(EntityTypes.Injection, policy.Injection, injections);
            }
        }
        Span<int> categories = stackalloc int[ThreatDetector.Categories.Count];
        categories.Clear();
        ThreatDetector.Moderation(text, anchors, categories);
        for (var i = 0; i < categories.Length; i++)
        {
            if (categories[i] > 0 && policy.ModerationAction(i) is var action and not GuardAction.Allow)
            {
                var type = EntityTypes.ModerationPrefix + ThreatDetector.Categories[i].ToUpperInvariant();
                Spans?.Add(new ScanSpan { EntityType = type, Action = action });
                Count(type, action, categories[i]);
            }
        }
    }

    private string Placeholder(string type, string value)
    {
        _placeholders ??= new(StringComparer.Ordinal);
        _sequence ??= new(StringComparer.Ordinal);
        var key = string.Concat(type, "\0", value);
        if (!_placeholders.TryGetValue(key, out var placeholder))
        {
            var next = _sequence.GetValueOrDefault(type) + 1;
            _sequence[type] = next;
            placeholder = $"<{type}_{next}>";
            _placeholders[key] = placeholder;
            Pseudonyms[placeholder] = value;
        }
        return placeholder;
    }

    private void Count(string type, GuardAction action, int count = 1)
        => _counts[(type, action)] = _counts.GetValueOrDefault((type, action)) + count;

    public GuardAction Decision()
    {
        var decision = GuardAction.Allow;
        foreach (var (key, _) in _counts)
        {
            if (Rank(key.Action) > Rank(decision))
            {
                decision = key.Action;
            }
        }
        return decision;
    }

    private static int Rank(GuardAction action) => action switch
    {
        GuardAction.Block => 6,
        GuardAction.RouteSelfHosted => 5,
        GuardAction.Pseudonymize => 4,
        GuardAction.Redact => 3,
        GuardAction.Audit => 2,
        _ => 1,
    };

    public IEnumerable<Finding> Findings(string direction)
        => _counts.OrderBy(c => c.Key.Type, StringComparer.Ordinal).Select(c => new Finding { EntityType = c.Key.Type, Count = c.Value, Action = c.Key.Action, Direction = direction });

    // Types that drove a decision, for messages: names only, never values.
    public string TypesWith(GuardAction action)
        => string.Join(", ", _counts.Keys.Where(k => k.Action == action).Select(k => k.Type).Distinct().Order(StringComparer.Ordinal));
}
