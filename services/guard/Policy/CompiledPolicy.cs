using System.Text.RegularExpressions;
using Gateway.Common.Configuration;
using Gateway.Contracts.Common.V1;
using Gateway.Guard.Detection;
using GuardAction = Gateway.Contracts.Guard.V1.Action;

namespace Gateway.Guard.Policy;

// One configured policy, ready to apply: actions looked up by entity type, custom patterns and the deny
// list compiled once (NonBacktracking: an operator's pattern cannot make scanning exponential).
internal sealed class CompiledPolicy
{
    private readonly Dictionary<string, GuardAction> _entities;
    private readonly GuardAction _entityDefault;
    private readonly Dictionary<string, GuardAction> _output;
    private readonly GuardAction _outputDefault;
    private readonly GuardAction[] _moderation;
    private readonly List<(string Type, Regex Regex)> _patterns = [];
    private readonly Regex? _deny;

    public CompiledPolicy(string name, GuardPolicyConfig config)
    {
        Name = name;
        _entities = config.Entities.Where(e => e.Key != GuardNames.Default).ToDictionary(e => e.Key, e => Parse(e.Value), StringComparer.Ordinal);
        _entityDefault = config.Entities.TryGetValue(GuardNames.Default, out var d) ? Parse(d) : GuardAction.Audit;
        foreach (var pattern in config.Patterns)
        {
            _patterns.Add((pattern.Name, new Regex(pattern.Regex, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(200))));
            if (pattern.Action is { } action)
            {
                _entities.TryAdd(pattern.Name, Parse(action));
            }
        }
        if (config.Deny is { Terms.Count: > 0 } deny)
        {
            var alternation = string.Join("|", deny.Terms.Select(t => Regex.Escape(t.Trim())).OrderByDescending(t => t.Length));
            _deny = new Regex($@"(?<!\w)(?:{alternation})(?!\w)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled);
            _entities.TryAdd(EntityTypes.DenyList, Parse(deny.Action));
        }
        _output = config.Output.Where(e => e.Key != GuardNames.Default).ToDictionary(e => e.Key, e => Parse(e.Value), StringComparer.Ordinal);
        _outputDefault = config.Output.TryGetValue(GuardNames.Default, out var o) ? Parse(o) : GuardAction.Audit;
        ScansOutput = config.Output.Count > 0;
        Injection = config.Injection is { } injection ? Parse(injection) : GuardAction.Audit;
        var moderationDefault = config.Moderation.TryGetValue(GuardNames.Default, out var md) ? Parse(md) : GuardAction.Audit;
        _moderation = ThreatDetector.Categories.Select(c => config.Moderation.TryGetValue(c, out var a) ? Parse(a) : moderationDefault).ToArray();
        Residency = config.Residency.Count > 0 ? [.. config.Residency] : ["self-hosted"];
    }

    public string Name { get; }

    public bool ScansOutput { get; }

    public GuardAction Injection { get; }

    public IReadOnlyList<string> Residency { get; }

    public GuardAction ModerationAction(int category) => _moderation[category];

    public GuardAction ActionFor(string type, bool output)
    {
        if (output)
        {
            return _output.TryGetValue(type, out var o) ? o : _outputDefault;
        }
        return _entities.TryGetValue(type, out var a) ? a : _entityDefault;
    }

    public void ScanCustom(string text, List<EntityMatch> found)
    {
        foreach (var (type, regex) in _patterns)
        {
            foreach (var m in regex.EnumerateMatches(text))
            {
                if (m.Length > 0)
                {
                    found.Add(new(type, m.Index, m.Length));
                }
            }
        }
        if (_deny is not null)
        {
            foreach (var m in _deny.EnumerateMatches(text))
            {
                found.Add(new(EntityTypes.DenyList, m.Index, m.Length));
            }
        }
    }

    public static GuardAction Parse(string action) => action switch
    {
        "allow" => GuardAction.Allow,
        "audit" => GuardAction.Audit,
        "redact" => GuardAction.Redact,
        "pseudonymize" => GuardAction.Pseudonymize,
        "block" => GuardAction.Block,
        "route_self_hosted" => GuardAction.RouteSelfHosted,
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "unknown guard action"),
    };

    public static string ActionName(GuardAction action) => action switch
    {
        GuardAction.Allow => "allow",
        GuardAction.Audit => "audit",
        GuardAction.Redact => "redact",
        GuardAction.Pseudonymize => "pseudonymize",
        GuardAction.Block => "block",
        GuardAction.RouteSelfHosted => "route_self_hosted",
        _ => "none",
    };
}

// The configured policies and the assignment rules; rebuilt when the configuration changes.
internal sealed class PolicySet
{
    private readonly Dictionary<string, CompiledPolicy> _policies;
    private readonly List<GuardAssignConfig> _assign;

    public PolicySet(GuardConfig config)
    {
        Config = config;
        _policies = config.Policies.ToDictionary(p => p.Key, p => new CompiledPolicy(p.Key, p.Value), StringComparer.Ordinal);
        _assign = config.Assign;
    }

    public GuardConfig Config { get; }

    public CompiledPolicy? Named(string name) => _policies.GetValueOrDefault(name);

    // First rule whose scope matches wins; every field a scope sets must equal the principal's (or model's).
    public CompiledPolicy? Resolve(Principal? principal, string model)
    {
        foreach (var rule in _assign)
        {
            var scope = rule.Scope;
            if (Matches(scope.Team, principal?.Team) && Matches(scope.Project, principal?.Project)
                && Matches(scope.Environment, principal?.Environment) && Matches(scope.Key, principal?.KeyName)
                && Matches(scope.User, principal?.User) && Matches(scope.Model, model))
            {
                return _policies.GetValueOrDefault(rule.Policy);
            }
        }
        return null;
    }

    private static bool Matches(string? wanted, string? actual) => wanted is null || string.Equals(wanted, actual, StringComparison.Ordinal);
}
