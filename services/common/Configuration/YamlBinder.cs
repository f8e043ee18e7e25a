using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Gateway.Common.Configuration;

// Binds a YAML tree onto config records by snake_case key, collecting every error with its key path
// instead of stopping at the first. `${NAME}` (or `${NAME:-default}`) in scalars reads the environment.
internal sealed partial class YamlBinder(Func<string, string?> environment)
{
    private readonly List<ConfigError> _errors = [];

    public IReadOnlyList<ConfigError> Errors => _errors;

    public T Bind<T>(string yaml) where T : new()
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            _errors.Add(new ConfigError("", $"not valid YAML at line {e.Start.Line}, column {e.Start.Column}: {e.Message}"));
            return new T();
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            if (stream.Documents.Count > 0 && stream.Documents[0].RootNode is not YamlScalarNode { Value: null or "" })
            {
                _errors.Add(new ConfigError("", "the file must be a YAML mapping (key: value) at the top level"));
            }
            return new T();
        }
        return (T)BindValue(typeof(T), root, "")!;
    }

    private object? BindValue(Type type, YamlNode node, string path)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        if (node is YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "" or "~" or "null" } && type != typeof(string))
        {
            return type.IsValueType && Nullable.GetUnderlyingType(type) is null ? Activator.CreateInstance(type) : null;
        }
        if (underlying == typeof(string)
            || underlying == typeof(int) || underlying == typeof(long) || underlying == typeof(double)
            || underlying == typeof(decimal) || underlying == typeof(bool))
        {
            return BindScalar(underlying, node, path);
        }
        if (underlying.IsGenericType && underlying.GetGenericTypeDefinition() == typeof(List<>))
        {
            return BindList(underlying, node, path);
        }
        if (underlying.IsGenericType && underlying.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            return BindDictionary(underlying, node, path);
        }
        return BindRecord(underlying, node, path);
    }

    private object? BindScalar(Type type, YamlNode node, string path)
    {
        if (node is not YamlScalarNode scalar)
        {
            _errors.Add(new ConfigError(path, $"expected {Describe(type)}, found a {(node is YamlSequenceNode ? "list" : "mapping")}"));
            return DefaultOf(type);
        }
        var text = Substitute(scalar.Value ?? "", path);
        if (type == typeof(string))
        {
            return text;
        }
        object? value = type switch
        {
            _ when type == typeof(int) => int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i : null,
            _ when type == typeof(long) => long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? l : null,
            _ when type == typeof(double) => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null,
            _ when type == typeof(decimal) => decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var m) ? m : null,
            _ => text switch { "true" or "True" or "yes" => true, "false" or "False" or "no" => false, _ => null },
        };
        if (value is null)
        {
            // Quote the raw scalar, never the substituted value: it may hold a secret.
            _errors.Add(new ConfigError(path, $"expected {Describe(type)}, found '{Truncate(scalar.Value ?? "")}'"));
            return DefaultOf(type);
        }
        return value;
    }

    private object BindList(Type listType, YamlNode node, string path)
    {
        var list = (IList)Activator.CreateInstance(listType)!;
        var itemType = listType.GetGenericArguments()[0];
        if (node is not YamlSequenceNode sequence)
        {
            _errors.Add(new ConfigError(path, "expected a list (`[a, b]` or lines starting with `- `)"));
            return list;
        }
        var index = 0;
        foreach (var child in sequence.Children)
        {
            list.Add(BindValue(itemType, child, $"{path}[{index++}]"));
        }
        return list;
    }

    private object BindDictionary(Type dictType, YamlNode node, string path)
    {
        var valueType = dictType.GetGenericArguments()[1];
        var dict = (IDictionary)Activator.CreateInstance(dictType, StringComparer.Ordinal)!;
        if (node is not YamlMappingNode mapping)
        {
            _errors.Add(new ConfigError(path, "expected a mapping of names to entries"));
            return dict;
        }
        foreach (var (keyNode, valueNode) in mapping.Children)
        {
            var key = ((YamlScalarNode)keyNode).Value ?? "";
            var childPath = Join(path, key);
            if (dict.Contains(key))
            {
                _errors.Add(new ConfigError(childPath, "defined twice; keep one"));
                continue;
            }
            dict[key] = BindValue(valueType, valueNode, childPath);
        }
        return dict;
    }

    private object BindRecord(Type type, YamlNode node, string path)
    {
        var instance = Activator.CreateInstance(type)!;
        if (node is not YamlMappingNode mapping)
        {
            _errors.Add(new ConfigError(path, "expected a mapping (key: value)"));
            return instance;
        }
        var properties = PropertiesOf(type);
        foreach (var (keyNode, valueNode) in mapping.Children)
        {
            var key = (keyNode as YamlScalarNode)?.Value ?? "";
            var childPath = Join(path, key);
            if (!properties.TryGetValue(key, out var property))
            {
                var suggestion = Closest(key, properties.Keys);
                _errors.Add(new ConfigError(childPath, suggestion is null
                    ? $"unknown key; allowed here: {string.Join(", ", properties.Keys.Order(StringComparer.Ordinal))}"
                    : $"unknown key; did you mean '{suggestion}'?"));
                continue;
            }
            property.SetValue(instance, BindValue(property.PropertyType, valueNode, childPath));
        }
        return instance;
    }

    private string Substitute(string text, string path)
    {
        if (!text.Contains("${", StringComparison.Ordinal))
        {
            return text;
        }
        return EnvReference().Replace(text, match =>
        {
            var name = match.Groups["name"].Value;
            var value = environment(name);
            if (!string.IsNullOrEmpty(value))
            {
                return value;
            }
            if (match.Groups["default"].Success)
            {
                return match.Groups["default"].Value;
            }
            _errors.Add(new ConfigError(path, $"environment variable {name} is not set; set it, or write ${{{name}:-default}} to allow a default"));
            return "";
        });
    }

    private static readonly Dictionary<Type, Dictionary<string, PropertyInfo>> PropertyCache = [];

    private static Dictionary<string, PropertyInfo> PropertiesOf(Type type)
    {
        lock (PropertyCache)
        {
            if (!PropertyCache.TryGetValue(type, out var map))
            {
                map = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                    .Where(p => p.CanWrite)
                    .ToDictionary(p => SnakeCase(p.Name), StringComparer.Ordinal);
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
            var c = name[i];
            if (char.IsUpper(c))
            {
                if (i > 0)
                {
                    builder.Append('_');
                }
                builder.Append(char.ToLowerInvariant(c));
            }
            else
            {
                builder.Append(c);
            }
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

    private static string Join(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "…";

    private static object? DefaultOf(Type type) => type.IsValueType ? Activator.CreateInstance(type) : null;

    private static string Describe(Type type) => type switch
    {
        _ when type == typeof(int) || type == typeof(long) => "a whole number",
        _ when type == typeof(double) || type == typeof(decimal) => "a number",
        _ when type == typeof(bool) => "true or false",
        _ => "a text value",
    };

    [GeneratedRegex(@"\$\{(?<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?<default>[^}]*))?\}")]
    private static partial Regex EnvReference();
}
