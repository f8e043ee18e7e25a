using System.Text;

namespace Gateway.Common.Configuration;

// The `mcp:` section: upstream MCP servers, virtual endpoints, OIDC for agents, authorization rules and limits.
public sealed record McpConfig
{
    public OidcConfig? Oidc { get; init; }
    public Dictionary<string, McpServerConfig> Servers { get; init; } = new(StringComparer.Ordinal);
    public Dictionary<string, McpVirtualConfig> Virtual { get; init; } = new(StringComparer.Ordinal);
    // Deny by default: a caller sees and calls only what some rule grants.
    public List<McpRuleConfig> Rules { get; init; } = [];
    public List<McpRateLimitConfig> RateLimits { get; init; } = [];
    // Per tools/call; a server's own timeout_seconds wins.
    public double CallTimeoutSeconds { get; init; } = 60;
    // Periodic re-discovery of every upstream's catalogue (list_changed triggers it at once).
    public double RefreshSeconds { get; init; } = 300;
    // What a silent change of a tool's definition does: `flag` (audit + admin API) or `block` (hidden and
    // refused until approved at POST /admin/v1/mcp/servers/{server}/approve).
    public string RugPull { get; init; } = "block";
    // Tools whose description or schema carries an injection pattern: `flag` or `block`.
    public string Poisoning { get; init; } = "block";
    // DNS-rebinding defence: Origin and Host headers a browser-borne request may carry. Loopback names are
    // always accepted; add the public names the gateway is reached by.
    public List<string> AllowedOrigins { get; init; } = [];
    public List<string> AllowedHosts { get; init; } = [];
    // Argument names whose values are replaced by *** in the audit log.
    public List<string> RedactArguments { get; init; } = ["password", "secret", "token", "api_key", "apikey", "authorization"];
}

// One identity provider whose tokens the gateway accepts (mcp.oidc for /mcp; each auth.oidc entry for the
// LLM routes). The claim mapping turns a validated token into the same principal a gateway key gives.
public sealed record OidcConfig
{
    // auth.oidc only: names the issuer in principals (`oidc:NAME:USER`) and in logs.
    public string Name { get; init; } = "";
    public string Issuer { get; init; } = "";
    public string Audience { get; init; } = "";
    public string JwksUrl { get; init; } = "";
    public string RolesClaim { get; init; } = "roles";
    // A claim that names the team directly; when absent, `teams` maps group claim values to teams.
    public string TeamClaim { get; init; } = "team";
    public string GroupsClaim { get; init; } = "groups";
    // Group value -> team, first match in this order wins (Entra ID sends group object ids, Okta group names).
    public Dictionary<string, string> Teams { get; init; } = new(StringComparer.Ordinal);
    // The user claim; `sub` when the token lacks it.
    public string UserClaim { get; init; } = "sub";
    public string ProjectClaim { get; init; } = "project";
    public string EnvironmentClaim { get; init; } = "environment";
    // Used for a principal field the token does not supply.
    public OidcDefaultsConfig Defaults { get; init; } = new();
    // Models these tokens may use; empty means every configured model.
    public List<string> Models { get; init; } = [];
    public List<string> Algorithms { get; init; } = ["RS256", "ES256", "PS256"];
    public double ClockSkewSeconds { get; init; } = 60;
    public double JwksCacheSeconds { get; init; } = 600;
}

public sealed record OidcDefaultsConfig
{
    public string? Team { get; init; }
    public string? Project { get; init; }
    public string? Environment { get; init; }
}

public sealed record McpServerConfig
{
    // `stdio` or `streamable-http`.
    public string Transport { get; init; } = "";
    public string? Url { get; init; }
    // Sent to the upstream on every request (credentials injected by the gateway, e.g. Authorization: Bearer ${TOKEN}).
    public Dictionary<string, string> Headers { get; init; } = new(StringComparer.OrdinalIgnoreCase);
    public string? Command { get; init; }
    public List<string> Args { get; init; } = [];
    public Dictionary<string, string> Env { get; init; } = new(StringComparer.Ordinal);
    public string? WorkingDirectory { get; init; }
    public double? TimeoutSeconds { get; init; }

    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Transport = {Transport}, Url = {Url}, Headers = [{string.Join(", ", Headers.Keys)}], Command = {Command}, Args = [{Args.Count}], Env = [{string.Join(", ", Env.Keys)}], TimeoutSeconds = {TimeoutSeconds}");
        return true;
    }
}

public sealed record McpVirtualConfig
{
    public List<string> Servers { get; init; } = [];
    // Optional name patterns (as exposed with prefix, `server__tool`); empty = every tool of the servers.
    public List<string> Tools { get; init; } = [];
    // false exposes the upstream names unprefixed; only for a virtual server with one upstream.
    public bool Prefix { get; init; } = true;
}

public sealed record McpRuleConfig
{
    public List<string> Roles { get; init; } = [];
    public List<string> Teams { get; init; } = [];
    // Tool name patterns (`server__tool`, `*` wildcards).
    public List<string> Allow { get; init; } = [];
    public List<string> Deny { get; init; } = [];
    // Capability classes the rule grants: read, write, destructive, execute; empty = any.
    public List<string> Capabilities { get; init; } = [];
}

public sealed record McpRateLimitConfig
{
    public List<string> Roles { get; init; } = [];
    public List<string> Teams { get; init; } = [];
    public string Tool { get; init; } = "*";
    public int PerMinute { get; init; }
}
