using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using YamlDotNet.Core;

namespace Gateway.Common.Configuration;

// Binds a YAML tree onto config records by snake_case key, collecting every error with its key path instead
// of stopping at the first. `${NAME}` (or `${NAME:-default}`) in a value reads the environment; messages quote
// only the text written in the file, never what a variable held.
internal sealed partial class YamlBinder(Func<string, string?> environment)
{
    private sealed record Property(PropertyInfo Info, bool OptionalText);

    private static readonly Dictionary<Type, Dictionary<string, Property>> PropertyCache = [];

    private readonly List<ConfigError> _errors = [];
    private readonly Dictionary<string, int> _lines = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _substituted = new(StringComparer.Ordinal);

    public IReadOnlyList<ConfigError> Errors => _errors;

    // Key path -> the text written in the file, for every value that read the environment.
    public IReadOnlyDictionary<string, string> Substituted => _substituted;

    public T Bind<T>(string yaml) where T : new()
    {
        YamlNode? root;
        try
        {
            root = Read(yaml);
        }
        catch (YamlException e)
        {
            _errors.Add(SyntaxError(yaml, e));
            return new T();
        }
        if (root is null)
        {
            _errors.Add(new("", "the configuration is empty; start from deploy/local/gateway.yaml (docs/configuration.md lists every key)"));
            return new T();
        }
        return Bind(typeof(T), root, "") is T bound ? bound : new T();
    }

    // `{ api_key: ${OPENAI_API_KEY} }` is not valid YAML (a brace ends a plain value inside braces), yet it is
    // how the architecture sketch and most people write it. Only when the file does not parse, it is read
    // again with such whole-value references quoted; a file that parses is never rewritten.
    private static YamlNode? Read(string yaml)
    {
        try
        {
            return YamlTree.Read(yaml);
        }
        catch (YamlException) when (UnquotedReference().IsMatch(yaml))
        {
            try
            {
                return YamlTree.Read(UnquotedReference().Replace(yaml, "\"$1\""));
            }
            catch (YamlException)
            {
                // Still not YAML: report the error in the file as written, below.
            }
            throw;
        }
    }

    // The line of a key path, or of its nearest parent written in the file; 0 when there is none.
    public int LineOf(string path)
    {
        while (true)
        {
            if (_lines.TryGetValue(path, out var line))
            {
                return line;
            }
            var cut = path.LastIndexOfAny(['.', '[']);
            if (cut <= 0)
            {
                return 0;
            }
            path = path[..cut];
        }
    }

    // Null when the node has no usable value (absent or wrong, the latter reported): the caller keeps its
    // default. `existing` is the property's current value, so a dictionary keeps the comparer its record chose.
    private object? Bind(Type type, YamlNode node, string path, object? existing = null)
    {
        _lines.TryAdd(path, node.Line);
        if (node is YamlScalar { IsNull: true })
        {
            return null;
        }
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string) || type == typeof(int) || type == typeof(long) || type == typeof(double) || type == typeof(decimal) || type == typeof(bool))
        {
            return BindScalar(type, node, path);
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>))
        {
            return BindList(type, node, path);
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            return BindDictionary(type, node, path, existing as IDictionary);
        }
        return BindRecord(type, node, path);
    }

    private object? BindScalar(Type type, YamlNode node, string path)
    {
        if (node is not YamlScalar scalar)
        {
            _errors.Add(new(path, $"expected {Describe(type)}, found {Shape(node)}; write a single value"));
            return null;
        }
        if (Substitute(scalar.Value, path) is not { } text)
        {
            return null;
        }
        object? value = type switch
        {
            _ when type == typeof(string) => text,
            _ when type == typeof(int) => int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i : null,
            _ when type == typeof(long) => long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? l : null,
            _ when type == typeof(double) => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) ? d : null,
            _ when type == typeof(decimal) => decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var m) ? m : null,
            _ => bool.TryParse(text, out var b) ? b : null,
        };
        if (value is null)
        {
            _errors.Add(new(path, $"expected {Describe(type)}, found {Shape(node)}"));
        }
        return value;
    }

    private IList? BindList(Type listType, YamlNode node, string path)
    {
        if (node is not YamlSequence sequence)
        {
            _errors.Add(new(path, $"expected a list, found {Shape(node)}; write [a, b] or one `- item` per line"));
            return null;
        }
        var list = (IList)Activator.CreateInstance(listType)!;
        var itemType = listType.GetGenericArguments()[0];
        for (var i = 0; i < sequence.Items.Count; i++)
        {
            var itemPath = $"{path}[{i}]";
            if (sequence.Items[i] is YamlScalar { IsNull: true })
            {
                _errors.Add(new(itemPath, "empty list item; give it a value or remove it"));
            }
            // A failed item still takes its place, so the indices in later messages match the file.
            list.Add(Bind(itemType, sequence.Items[i], itemPath) ?? Empty(itemType));
        }
        return list;
    }

    private IDictionary? BindDictionary(Type dictionaryType, YamlNode node, string path, IDictionary? existing)
    {
        if (node is not YamlMapping mapping)
        {
            _errors.Add(new(path, $"expected a mapping of names to entries, found {Shape(node)}; write one `NAME: ...` per entry"));
            return null;
        }
        var dictionary = existing ?? (IDictionary)Activator.CreateInstance(dictionaryType, StringComparer.Ordinal)!;
        var valueType = dictionaryType.GetGenericArguments()[1];
        foreach (var (name, valueNode, childPath) in Entries(mapping, path))
        {
            if (valueNode is YamlScalar { IsNull: true })
            {
                _errors.Add(new(childPath, "has no value; fill it in or remove the entry"));
            }
            // A failed entry stays (empty), so references to its name do not report it missing as well.
            dictionary[name] = Bind(valueType, valueNode, childPath) ?? Empty(valueType);
        }
        return dictionary;
    }

    private object? BindRecord(Type type, YamlNode node, string path)
    {
        if (node is not YamlMapping mapping)
        {
            _errors.Add(new(path, $"expected a mapping, found {Shape(node)}; write `key: value` lines or {{ key: value, ... }}"));
            return null;
        }
        var instance = Activator.CreateInstance(type)!;
        var properties = PropertiesOf(type);
        foreach (var (key, valueNode, childPath) in Entries(mapping, path))
        {
            if (!properties.TryGetValue(key, out var property))
            {
                _errors.Add(new(childPath, Closest(key, properties.Keys) is { } suggestion
                    ? $"unknown key; did you mean '{suggestion}'?"
                    : $"unknown key; remove it, or use one of: {string.Join(", ", properties.Keys.Order(StringComparer.Ordinal))}"));
                continue;
            }
            var value = Bind(property.Info.PropertyType, valueNode, childPath, property.Info.GetValue(instance));
            // An optional text that is empty (often `${NAME:-}`) is the same as leaving it out.
            if (value is not null && !(property.OptionalText && value is ""))
            {
                property.Info.SetValue(instance, value);
            }
        }
        return instance;
    }

    // The entries of a mapping with their key paths. A key that is not text, or that repeats, is reported and skipped.
    private IEnumerable<(string Key, YamlNode Value, string Path)> Entries(YamlMapping mapping, string path)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (keyNode, valueNode) in mapping.Entries)
        {
            if (keyNode is not YamlScalar { Value: var key })
            {
                _errors.Add(new(path, $"the key on line {keyNode.Line} is a list or mapping; keys are plain names", keyNode.Line));
                continue;
            }
            var childPath = path.Length == 0 ? key : $"{path}.{key}";
            if (!seen.TryAdd(key, keyNode.Line))
            {
                _errors.Add(new(childPath, $"defined twice (first on line {seen[key]}); keep one", keyNode.Line));
                continue;
            }
            _lines.TryAdd(childPath, keyNode.Line);
            yield return (key, valueNode, childPath);
        }
    }

    // The text with `${NAME}` and `${NAME:-default}` replaced; null (reported) when a variable is missing.
    private string? Substitute(string text, string path)
    {
        if (!text.Contains("${", StringComparison.Ordinal))
        {
            return text;
        }
        _substituted[path] = text;
        if (EnvReference().Replace(text, "").Contains("${", StringComparison.Ordinal))
        {
            _errors.Add(new(path, "malformed variable reference; write ${NAME} or ${NAME:-default}, NAME made of letters, digits and '_'"));
            return null;
        }
        var complete = true;
        var result = EnvReference().Replace(text, match =>
        {
            var name = match.Groups["name"].Value;
            if (environment(name) is { Length: > 0 } value)
            {
                return value;
            }
            if (match.Groups["default"].Success)
            {
                return match.Groups["default"].Value;
            }
            _errors.Add(new(path, $"environment variable {name} is not set; set it, or write ${{{name}:-default}} to allow a default"));
            complete = false;
            return "";
        });
        return complete ? result : null;
    }

    private static Dictionary<string, Property> PropertiesOf(Type type)
    {
        lock (PropertyCache)
        {
            if (!PropertyCache.TryGetValue(type, out var map))
            {
                var nullability = new NullabilityInfoContext();
                map = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                    .Where(p => p.CanWrite)
                    .ToDictionary(
                        p => SnakeCase(p.Name),
                        p => new Property(p, p.PropertyType == typeof(string) && nullability.Create(p).WriteState == NullabilityState.Nullable),
                        StringComparer.Ordinal);
                PropertyCache[type] = map;
            }
            return map;
        }
    }

    internal static string SnakeCase(string name)
    {
        var builder = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                builder.Append('_');
            }
            builder.Append(char.ToLowerInvariant(name[i]));
        }
        return builder.ToString();
    }

    private static string? Closest(string key, IEnumerable<string> candidates)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            var distance = Levenshtein(key, candidate);
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }
        return bestDistance <= Math.Max(2, key.Length / 3) ? best : null;
    }

    private static int Levenshtein(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    // Where the parser stopped, what it says, and the fix for the two usual causes it words poorly.
    private static ConfigError SyntaxError(string yaml, YamlException e)
    {
        var lines = yaml.Split('\n');
        var reason = e.Message.StartsWith("(Line:", StringComparison.Ordinal) && e.Message.IndexOf("): ", StringComparison.Ordinal) is > 0 and var cut
            ? e.Message[(cut + 3)..]
            : e.Message;
        var tabbed = Array.FindIndex(lines, l => l.Length > l.TrimStart().Length && l[..(l.Length - l.TrimStart().Length)].Contains('\t'));
        if (reason.Contains("tab", StringComparison.OrdinalIgnoreCase) && tabbed >= 0)
        {
            return new("", $"not valid YAML at line {tabbed + 1}: the line is indented with a tab; YAML indents with spaces only", tabbed + 1);
        }
        var line = (int)e.Start.Line;
        var advice = line <= lines.Length && lines[line - 1].Contains("${", StringComparison.Ordinal)
            ? "inside { } or [ ], put a value that uses ${NAME} in quotes, e.g. api_key: \"${OPENAI_API_KEY}\""
            : "check the indentation and quoting there";
        return new("", $"not valid YAML at line {line}, column {e.Start.Column}: {reason.TrimEnd('.', ' ')}; {advice}", line);
    }

    private static object Empty(Type type) => type == typeof(string) ? "" : Activator.CreateInstance(type)!;

    // Quotes only the file's own text: a substituted value may be a secret.
    private static string Shape(YamlNode node) => node switch
    {
        YamlSequence => "a list",
        YamlMapping => "a mapping",
        YamlScalar scalar => $"'{(scalar.Value.Length <= 40 ? scalar.Value : scalar.Value[..40] + "…")}'",
        _ => "something else",
    };

    private static string Describe(Type type) => type switch
    {
        _ when type == typeof(int) || type == typeof(long) => "a whole number (e.g. 10)",
        _ when type == typeof(double) || type == typeof(decimal) => "a number (e.g. 2.5)",
        _ when type == typeof(bool) => "true or false",
        _ => "a text value",
    };

    [GeneratedRegex(@"(?<=[\[{,:][ \t]*)(\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}""'\n]*)?\})(?=[ \t]*[,}\]])")]
    private static partial Regex UnquotedReference();

    [GeneratedRegex(@"\$\{(?<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?<default>[^}]*))?\}")]
    private static partial Regex EnvReference();
}
