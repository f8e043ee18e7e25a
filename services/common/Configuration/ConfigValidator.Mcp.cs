namespace Gateway.Common.Configuration;

// Checks of the `mcp:` section.
internal sealed partial class ConfigValidator
{
    public static readonly IReadOnlyList<string> McpTransports = ["stdio", "streamable-http"];

    public static readonly IReadOnlyList<string> McpCapabilities = ["read", "write", "destructive", "execute"];

    private static readonly string[] McpPolicies = ["flag", "block"];

    private void ValidateMcp()
    {
        var mcp = config.Mcp;
        if (mcp.Oidc is { } oidc)
        {
            ValidateOidc("mcp.oidc", oidc);
        }
        foreach (var (name, server) in mcp.Servers)
        {
            var path = $"mcp.servers.{name}";
            if (!IsMcpServerName(name))
            {
                Error(path, $"'{name}' is not a valid MCP server name; use letters, digits and '-', at most 32 characters, no '__' (tools are exposed as SERVER__TOOL)");
            }
            ValidateMcpServer(path, server);
        }
        foreach (var (name, virtualServer) in mcp.Virtual)
        {
            var path = $"mcp.virtual.{name}";
            if (!ConfigNames.IsName(name))
            {
                Error(path, $"'{name}' is not a valid virtual server name; use {ConfigNames.NameRule} (it is served at /mcp/NAME)");
            }
            if (virtualServer.Servers.Count == 0)
            {
                Error($"{path}.servers", "needs at least one server, e.g. [everything]");
            }
            for (var i = 0; i < virtualServer.Servers.Count; i++)
            {
                if (!mcp.Servers.ContainsKey(virtualServer.Servers[i]))
                {
                    Error($"{path}.servers[{i}]", $"unknown MCP server {Show($"{path}.servers[{i}]", virtualServer.Servers[i])}; use one of: {List(mcp.Servers.Keys)}");
                }
            }
            if (!virtualServer.Prefix && virtualServer.Servers.Count > 1)
            {
                Error($"{path}.prefix", "prefix: false needs exactly one server (unprefixed names from two servers could clash); list one server or set prefix: true");
            }
        }
        for (var i = 0; i < mcp.Rules.Count; i++)
        {
            var rule = mcp.Rules[i];
            var path = $"mcp.rules[{i}]";
            if (rule.Roles.Count == 0 && rule.Teams.Count == 0)
            {
                Error(path, "names nobody; add roles: [...] or teams: [...] (rules only grant, everything else is denied)");
            }
            if (rule.Allow.Count == 0)
            {
                Error($"{path}.allow", "missing; list tool name patterns such as [\"everything__*\"] or [\"*\"]");
            }
            for (var c = 0; c < rule.Capabilities.Count; c++)
            {
                if (!McpCapabilities.Contains(rule.Capabilities[c]))
                {
                    Error($"{path}.capabilities[{c}]", $"unknown capability {Show($"{path}.capabilities[{c}]", rule.Capabilities[c])}; use one of: {string.Join(", ", McpCapabilities)}");
                }
            }
        }
        for (var i = 0; i < mcp.RateLimits.Count; i++)
        {
            var limit = mcp.RateLimits[i];
            var path = $"mcp.rate_limits[{i}]";
            if (limit.PerMinute is < 1 or > 1_000_000)
            {
                Error($"{path}.per_minute", "must be between 1 and 1000000 calls per minute per identity and tool");
            }
            if (limit.Tool.Length == 0)
            {
                Error($"{path}.tool", "missing; use a tool name pattern such as \"*\" or \"everything__echo\"");
            }
        }
        if (mcp.CallTimeoutSeconds is <= 0 or > 3600)
        {
            Error("mcp.call_timeout_seconds", "must be more than 0 and at most 3600 seconds (default 60)");
        }
        if (mcp.RefreshSeconds is < 1 or > 86400)
        {
            Error("mcp.refresh_seconds", "must be between 1 and 86400 seconds (default 300)");
        }
        if (!McpPolicies.Contains(mcp.RugPull))
        {
            Error("mcp.rug_pull", $"use flag or block (default block); found {Show("mcp.rug_pull", mcp.RugPull)}");
        }
        if (!McpPolicies.Contains(mcp.Poisoning))
        {
            Error("mcp.poisoning", $"use flag or block (default block); found {Show("mcp.poisoning", mcp.Poisoning)}");
        }
    }

    private void ValidateOidc(string path, OidcConfig oidc)
    {
        if (!Uri.TryCreate(oidc.Issuer, UriKind.Absolute, out _))
        {
            Error($"{path}.issuer", "expected the issuer URL exactly as tokens carry it in `iss`, e.g. https://login.microsoftonline.com/TENANT/v2.0");
        }
        if (oidc.Audience.Length == 0)
        {
            Error($"{path}.audience", "missing; set the audience tokens must be issued for (`aud`), e.g. api://gateway");
        }
        if (!Uri.TryCreate(oidc.JwksUrl, UriKind.Absolute, out var jwks) || jwks.Scheme is not ("https" or "http"))
        {
            Error($"{path}.jwks_url", "expected the http(s) URL of the issuer's JSON Web Key Set, e.g. https://login.example.com/.well-known/jwks.json");
        }
        if (oidc.RolesClaim.Length == 0)
        {
            Error($"{path}.roles_claim", "missing; name the claim that carries roles or groups, e.g. groups or roles");
        }
        if (oidc.UserClaim.Length == 0)
        {
            Error($"{path}.user_claim", "missing; name the claim that identifies the user, e.g. sub or email");
        }
        foreach (var (group, team) in oidc.Teams)
        {
            if (!ConfigNames.IsName(team))
            {
                Error($"{path}.teams.{group}", $"'{team}' is not a valid team name; use {ConfigNames.NameRule}");
            }
        }
        if (oidc.JwksCacheSeconds is < 60 or > 86400)
        {
            Error($"{path}.jwks_cache_seconds", "must be between 60 and 86400 (default 600)");
        }
        if (oidc.ClockSkewSeconds is < 0 or > 600)
        {
            Error($"{path}.clock_skew_seconds", "must be between 0 and 600 (default 60)");
        }
        if (oidc.Algorithms.Count == 0)
        {
            Error($"{path}.algorithms", "needs at least one signature algorithm, e.g. [RS256]");
        }
        for (var i = 0; i < oidc.Algorithms.Count; i++)
        {
            if (oidc.Algorithms[i] is not ("RS256" or "RS384" or "RS512" or "PS256" or "PS384" or "PS512" or "ES256" or "ES384" or "ES512"))
            {
                Error($"{path}.algorithms[{i}]", $"unsupported algorithm {Show($"{path}.algorithms[{i}]", oidc.Algorithms[i])}; use asymmetric ones: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512");
            }
        }
    }

    private void ValidateMcpServer(string path, McpServerConfig server)
    {
        switch (server.Transport)
        {
            case "streamable-http":
                if (!Uri.TryCreate(server.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
                {
                    Error($"{path}.url", "expected the server's absolute http(s) URL, e.g. http://127.0.0.1:3001/mcp");
                }
                else if (url.UserInfo.Length > 0)
                {
                    Error($"{path}.url", "must not contain credentials; put them in headers (e.g. Authorization: Bearer ${TOKEN})");
                }
                foreach (var (header, value) in server.Headers)
                {
                    if (header.Length == 0 || !header.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
                    {
                        Error($"{path}.headers.{header}", "not a valid HTTP header name; use letters, digits and '-'");
                    }
                    if (value.Any(char.IsControl))
                    {
                        Error($"{path}.headers.{header}", "the value contains a line break or control character; remove it");
                    }
                }
                break;
            case "stdio":
                if (string.IsNullOrWhiteSpace(server.Command))
                {
                    Error($"{path}.command", "missing; set the program to launch, e.g. node (args: [path/to/server.js])");
                }
                break;
            default:
                Error($"{path}.transport", server.Transport.Length == 0
                    ? $"missing; use one of: {string.Join(", ", McpTransports)}"
                    : $"unknown transport {Show($"{path}.transport", server.Transport)}; use one of: {string.Join(", ", McpTransports)}");
                break;
        }
        if (server.TimeoutSeconds is <= 0 or > 3600)
        {
            Error($"{path}.timeout_seconds", "must be more than 0 and at most 3600 seconds");
        }
    }

    // Server names become the prefix of `server__tool`, so they stay short and never contain the separator.
    private static bool IsMcpServerName(string name)
        => name.Length is > 0 and <= 32 && char.IsAsciiLetterOrDigit(name[0]) && !name.Contains("__", StringComparison.Ordinal)
            && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}

internal sealed partial class ConfigValidator
{
    // Checks one MCP server registered at runtime (admin API) with the rules the file uses.
    public static List<ConfigError> ValidateRuntimeMcpServer(string name, McpServerConfig server)
    {
        var config = new GatewayConfig { Mcp = new McpConfig { Servers = { [name] = server } } };
        var validator = new ConfigValidator(config, new Dictionary<string, string>(StringComparer.Ordinal));
        validator.ValidateMcp();
        return validator._errors;
    }
}
