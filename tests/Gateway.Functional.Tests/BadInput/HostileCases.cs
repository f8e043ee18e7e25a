using System.Text;

namespace Gateway.Functional.Tests.BadInput;

// One field of a surface's valid request body: its valid JSON, and JSON values it must refuse.
public sealed record BodyField(string Name, string Valid, params string[] Invalid);

// A JSON-over-HTTP surface: where to send, a valid body as fields, and which fields the size cases target.
public sealed record JsonSurface(string Name, HttpMethod Method, string Path, IReadOnlyList<BodyField> Fields)
{
    // The field holding a name (model, server name) that must not grow without bound.
    public string? NameField { get; init; }

    // Chat surfaces: the JSON of one message and one tool, for the array-size cases.
    public string? Message { get; init; }

    public string? MessagesField { get; init; }

    public string? Tool { get; init; }

    public string? ToolsField { get; init; }

    // The valid body, with `overrides` replacing fields by raw JSON and `prefix` raw text after the `{`.
    public string Render(IReadOnlyDictionary<string, string>? overrides = null, string prefix = "")
    {
        var parts = Fields.Select(f => $"\"{f.Name}\":{(overrides is not null && overrides.TryGetValue(f.Name, out var raw) ? raw : f.Valid)}");
        return "{" + prefix + string.Join(",", parts) + "}";
    }

    public override string ToString() => Name;
}

public sealed record HostileRequest(byte[] Body, bool Chunked = false, int? Status = null);

// The hostile-input battery shared by every JSON surface: each case builds its request from the surface's
// valid body, so one list covers them all. A case that does not apply to a surface builds nothing.
public static class HostileCases
{
    public const int TenMegabytes = 10 * 1024 * 1024;

    private static readonly (string Name, Func<JsonSurface, HostileRequest?> Build)[] Generic =
    [
        ("empty body", _ => new([])),
        ("truncated", s => Text(s.Render()[..(s.Render().Length / 2)])),
        ("malformed", _ => Text("""{"model": nope}""")),
        ("trailing garbage", s => Text(s.Render() + "}{")),
        ("root array", _ => Text("[1,2,3]")),
        ("root string", _ => Text("\"just a string\"")),
        ("root huge number", _ => Text("1e400")),
        ("root null", _ => Text("null")),
        ("invalid UTF-8", s => new(Inject(s, "\"junk\":\"", [0xC3, 0x28], "\","))),
        ("overlong UTF-8", s => new(Inject(s, "\"junk\":\"", [0xC0, 0xAF], "\","))),
        ("lone surrogate in name", s => s.NameField is { } field ? Override(s, field, "\"gpt\\uD800\"") : null),
        ("lone surrogate in message", s => s.MessagesField is { } field ? Override(s, field, "[{\"role\":\"user\",\"content\":\"a\\uDC00b\"}]") : null),
        ("raw NUL byte", s => new(Inject(s, "", [0], ""))),
        ("10,000-deep nesting", s => Text(s.Render(prefix: "\"junk\":" + new string('[', 10_000) + new string(']', 10_000) + ","))),
        ("10,000-deep objects", s => Text(s.Render(prefix: "\"junk\":" + string.Concat(Enumerable.Repeat("{\"a\":", 10_000)) + "1" + new string('}', 10_000) + ","))),
        ("10 MB body", s => new(Encoding.UTF8.GetBytes(s.Render(prefix: $"\"junk\":\"{new string('x', TenMegabytes)}\",")), Status: 413)),
        ("10 MB chunked body", s => new(Encoding.UTF8.GetBytes(s.Render(prefix: $"\"junk\":\"{new string('x', TenMegabytes)}\",")), Chunked: true, Status: 413)),
        ("huge name", s => s.NameField is { } field ? Override(s, field, $"\"{new string('m', 1024 * 1024)}\"") : null),
        ("name with NUL and newlines", s => s.NameField is { } field ? Override(s, field, "\"gpt\\u0000-4o\\r\\nx-injected: 1\"") : null),
        ("empty message array", s => s.MessagesField is { } field ? Override(s, field, "[]") : null),
        ("100,000 messages", s => s.MessagesField is { } field ? Override(s, field, Repeat(s.Message!, 100_000)) : null),
        ("5,000 tools", s => s.ToolsField is { } field ? Override(s, field, Repeat(s.Tool!, 5_000)) : null),
    ];

    // Every case name for a surface: the generic ones that apply, and each field's invalid values.
    public static IEnumerable<string> Names(JsonSurface surface)
    {
        foreach (var (name, build) in Generic)
        {
            if (build(surface) is not null)
            {
                yield return name;
            }
        }
        foreach (var field in surface.Fields)
        {
            foreach (var value in field.Invalid)
            {
                yield return $"{field.Name} = {Abbreviate(value)}";
            }
        }
    }

    public static HostileRequest Build(JsonSurface surface, string caseName)
    {
        foreach (var (name, build) in Generic)
        {
            if (name == caseName)
            {
                return build(surface)!;
            }
        }
        foreach (var field in surface.Fields)
        {
            foreach (var value in field.Invalid)
            {
                if ($"{field.Name} = {Abbreviate(value)}" == caseName)
                {
                    return Override(surface, field.Name, value);
                }
            }
        }
        throw new ArgumentException($"No case '{caseName}' for {surface.Name}.");
    }

    // Values that are wrong for most fields, by the JSON type of the valid value.
    public static string[] WrongTypes(string valid) => valid[0] switch
    {
        '"' => ["5", "{}", "[]", "true"],
        '[' => ["\"x\"", "{}", "5"],
        '{' => ["\"x\"", "[]", "5"],
        't' or 'f' => ["\"yes\"", "1", "{}"],
        _ => ["\"5\"", "{}", "[]", "true"],
    };

    // Numbers no field should take: overflowing doubles and longs, NaN as a string, fractions for integers.
    public static readonly string[] HugeNumbers = ["1e400", "-1e400", "18446744073709551616", "99999999999999999999999", "\"NaN\"", "\"Infinity\""];

    private static HostileRequest Override(JsonSurface surface, string field, string raw)
        => Text(surface.Render(new Dictionary<string, string> { [field] = raw }));

    private static HostileRequest Text(string text) => new(Encoding.UTF8.GetBytes(text));

    private static byte[] Inject(JsonSurface surface, string before, byte[] bytes, string after)
    {
        var body = Encoding.UTF8.GetBytes(surface.Render());
        return [(byte)'{', .. Encoding.UTF8.GetBytes(before), .. bytes, .. Encoding.UTF8.GetBytes(after), .. body.AsSpan(1)];
    }

    private static string Repeat(string element, int count)
    {
        var builder = new StringBuilder(2 + (element.Length + 1) * count).Append('[');
        for (var i = 0; i < count; i++)
        {
            builder.Append(i == 0 ? "" : ",").Append(element);
        }
        return builder.Append(']').ToString();
    }

    private static string Abbreviate(string value) => value.Length <= 40 ? value : value[..40] + "…";
}
