using System.Collections.Concurrent;
using Gateway.Common.Configuration;
using Gateway.Contracts.Common.V1;
using Gateway.Mcp.Catalog;

namespace Gateway.Mcp.Policy;

// Deny by default: a caller may see and call a tool only when some rule names one of its roles or its team,
// one of the rule's allow patterns matches the tool's `server__tool` name, none of its deny patterns does,
// and (when the rule lists capabilities) the tool's capability class is among them.
public sealed class McpPolicy(ConfigMonitor config, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, Queue<DateTimeOffset>> _calls = new(StringComparer.Ordinal);

    public bool IsAllowed(Principal principal, CatalogTool tool) => IsAllowed(principal, tool.ExposedName, tool.Capability);

    // Prompts and resources are granted like tools, by their `server__name` and as the `read` class.
    public bool IsAllowed(Principal principal, string name, string capability)
    {
        foreach (var rule in config.Current.Mcp.Rules)
        {
            if (Applies(rule.Roles, rule.Teams, principal)
                && rule.Allow.Any(p => Glob.Matches(p, name))
                && !rule.Deny.Any(p => Glob.Matches(p, name))
                && (rule.Capabilities.Count == 0 || rule.Capabilities.Contains(capability, StringComparer.Ordinal)))
            {
                return true;
            }
        }
        return false;
    }

    // Sliding one-minute window per identity × tool for every rate limit that applies; false when any is full.
    public bool TryAcquire(Principal principal, string tool)
    {
        var limits = config.Current.Mcp.RateLimits;
        var now = time.GetUtcNow();
        for (var i = 0; i < limits.Count; i++)
        {
            var limit = limits[i];
            if (!Glob.Matches(limit.Tool, tool) || (limit.Roles.Count + limit.Teams.Count > 0 && !Applies(limit.Roles, limit.Teams, principal)))
            {
                continue;
            }
            var key = $"{i}\u0001{principal.KeyName}\u0001{tool}";
            var window = _calls.GetOrAdd(key, _ => new Queue<DateTimeOffset>());
            lock (window)
            {
                while (window.Count > 0 && now - window.Peek() >= TimeSpan.FromMinutes(1))
                {
                    window.Dequeue();
                }
                if (window.Count >= limit.PerMinute)
                {
                    return false;
                }
                window.Enqueue(now);
            }
        }
        return true;
    }

    private static bool Applies(List<string> roles, List<string> teams, Principal principal)
        => roles.Any(r => principal.Roles.Contains(r)) || (principal.Team.Length > 0 && teams.Contains(principal.Team, StringComparer.Ordinal));
}

// `*` matches any run of characters (including none); everything else is literal.
public static class Glob
{
    public static bool Matches(string pattern, string value) => Matches(pattern.AsSpan(), value.AsSpan());

    private static bool Matches(ReadOnlySpan<char> pattern, ReadOnlySpan<char> value)
    {
        int p = 0, v = 0, star = -1, mark = 0;
        while (v < value.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = v;
            }
            else if (p < pattern.Length && pattern[p] == value[v])
            {
                p++;
                v++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                v = ++mark;
            }
            else
            {
                return false;
            }
        }
        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }
        return p == pattern.Length;
    }
}
