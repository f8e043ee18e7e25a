using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Gateway.Common.Configuration;

// The YAML tree the binder reads. Unlike YamlDotNet's representation model, a mapping keeps every entry, so
// a key written twice can be reported with its path, and every node knows its line.
internal abstract record YamlNode(int Line);

internal sealed record YamlScalar(int Line, string Value, bool Plain) : YamlNode(Line)
{
    // `key:` with nothing after it, `~` or `null`: present, but without a value.
    public bool IsNull => Plain && Value is "" or "~" or "null" or "Null" or "NULL";
}

internal sealed record YamlSequence(int Line, IReadOnlyList<YamlNode> Items) : YamlNode(Line);

internal sealed record YamlMapping(int Line, IReadOnlyList<KeyValuePair<YamlNode, YamlNode>> Entries) : YamlNode(Line);

internal static class YamlTree
{
    // The single document in `yaml`, or null when it has no content. Throws YamlException on a syntax error.
    public static YamlNode? Read(string yaml)
    {
        var parser = new Parser(new StringReader(yaml));
        try
        {
            parser.Consume<StreamStart>();
            if (parser.TryConsume<StreamEnd>(out _))
            {
                return null;
            }
            parser.Consume<DocumentStart>();
            var root = ReadNode(parser, new Dictionary<string, YamlNode>(StringComparer.Ordinal));
            parser.Consume<DocumentEnd>();
            if (parser.Accept<DocumentStart>(out var second))
            {
                throw new YamlException(second.Start, second.End, "a second YAML document starts here; the configuration is one document, so remove the extra '---'");
            }
            return root is YamlScalar { IsNull: true } ? null : root;
        }
        catch (InvalidOperationException e)
        {
            // YamlDotNet's scanner throws this for some unclosed flow collections; point at the last good token.
            var at = parser.Current?.End ?? Mark.Empty;
            throw new YamlException(at, at, "the YAML cannot be read past this point; check that every [ and { is closed", e);
        }
    }

    private static YamlNode ReadNode(IParser parser, Dictionary<string, YamlNode> anchors)
    {
        var start = parser.Consume<ParsingEvent>();
        var line = (int)start.Start.Line;
        YamlNode node;
        switch (start)
        {
            case AnchorAlias alias:
                return anchors.TryGetValue(alias.Value.Value, out var anchored)
                    ? anchored
                    : throw new YamlException(start.Start, start.End, $"*{alias.Value.Value} refers to no anchor; define &{alias.Value.Value} before it");
            case Scalar scalar:
                node = new YamlScalar(line, scalar.Value, scalar.Style == ScalarStyle.Plain);
                break;
            case SequenceStart:
                var items = new List<YamlNode>();
                while (!parser.TryConsume<SequenceEnd>(out _))
                {
                    items.Add(ReadNode(parser, anchors));
                }
                node = new YamlSequence(line, items);
                break;
            case MappingStart:
                var entries = new List<KeyValuePair<YamlNode, YamlNode>>();
                while (!parser.TryConsume<MappingEnd>(out _))
                {
                    var key = ReadNode(parser, anchors);
                    entries.Add(new(key, ReadNode(parser, anchors)));
                }
                node = new YamlMapping(line, entries);
                break;
            default:
                throw new YamlException(start.Start, start.End, $"unexpected {start.GetType().Name}");
        }
        if (start is NodeEvent { Anchor: { IsEmpty: false } anchor })
        {
            anchors[anchor.Value] = node;
        }
        return node;
    }
}
