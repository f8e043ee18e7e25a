using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using Gateway.Common.Configuration;
using Gateway.Mcp.Audit;
using Gateway.Mcp.Upstreams;
using ModelContextProtocol.Protocol;

namespace Gateway.Mcp.Catalog;

public enum ToolStatus { Active, Changed, Poisoned }

// One upstream tool as the gateway publishes it.
public sealed record CatalogTool(
    string Server,
    string UpstreamName,
    string ExposedName,
    Tool Definition,
    string Capability,
    string Fingerprint,
    string? ApprovedFingerprint,
    IReadOnlyList<string> Findings,
    ToolStatus Status,
    bool Blocked);

// The aggregated catalogue of every upstream's tools, prompts and resources, with names namespaced
// `server__tool` (valid under ^[a-zA-Z0-9_-]{1,64}$), each definition scanned and fingerprinted.
public sealed partial class ToolCatalog(ConfigMonitor config, McpStateStore store, ILogger<ToolCatalog> logger)
{
    public const string Separator = "__";

    private readonly ConcurrentDictionary<string, IReadOnlyDictionary<string, CatalogTool>> _byServer = new(StringComparer.Ordinal);
    private volatile IReadOnlyDictionary<string, CatalogTool> _all = new Dictionary<string, CatalogTool>();
    private readonly Lock _gate = new();

    public event Action? Changed;

    public IReadOnlyDictionary<string, CatalogTool> Tools => _all;

    public IReadOnlyDictionary<string, CatalogTool> ToolsOf(string server)
        => _byServer.TryGetValue(server, out var tools) ? tools : new Dictionary<string, CatalogTool>();

    // Called after each discovery of `upstream`.
    public async Task PublishAsync(UpstreamConnection upstream, CancellationToken cancellationToken)
    {
        var mcp = config.Current.Mcp;
        var approved = await store.ApprovedFingerprintsAsync(upstream.Name, cancellationToken);
        var tools = new Dictionary<string, CatalogTool>(StringComparer.Ordinal);
        foreach (var tool in upstream.Tools)
        {
            var exposed = ExposedName(upstream.Name, tool.Name);
            var fingerprint = ToolScanner.Fingerprint(tool);
            var findings = ToolScanner.Scan(tool);
            approved.TryGetValue(tool.Name, out var baseline);
            var status = ToolStatus.Active;
            if (baseline is null)
            {
                if (findings.Count == 0)
                {
                    // Trust on first use: the first clean definition seen is the approved one.
                    await store.ApproveAsync(upstream.Name, tool.Name, fingerprint, "first-seen", cancellationToken);
                    baseline = fingerprint;
                }
                else
                {
                    status = ToolStatus.Poisoned;
                    McpLog.Poisoned(logger, exposed, string.Join(", ", findings));
                }
            }
            else if (baseline != fingerprint)
            {
                status = findings.Count > 0 ? ToolStatus.Poisoned : ToolStatus.Changed;
                McpLog.DefinitionChanged(logger, exposed);
            }
            var blocked = status switch
            {
                ToolStatus.Changed => mcp.RugPull == "block",
                ToolStatus.Poisoned => mcp.Poisoning == "block",
                _ => false,
            };
            var definition = CopyWithName(tool, exposed);
            tools[exposed] = new CatalogTool(upstream.Name, tool.Name, exposed, definition, CapabilityOf(tool), fingerprint, baseline, findings, status, blocked);
        }
        lock (_gate)
        {
            _byServer[upstream.Name] = tools;
            Rebuild();
        }
        Changed?.Invoke();
    }

    public void Remove(string server)
    {
        lock (_gate)
        {
            _byServer.TryRemove(server, out _);
            Rebuild();
        }
        Changed?.Invoke();
    }

    // Accepts the current definition of one tool (or all of a server's tools) as the approved one.
    public async Task<int> ApproveAsync(string server, string? tool, string approvedBy, CancellationToken cancellationToken)
    {
        var count = 0;
        foreach (var entry in ToolsOf(server).Values)
        {
            if (tool is null || entry.UpstreamName == tool || entry.ExposedName == tool)
            {
                await store.ApproveAsync(server, entry.UpstreamName, entry.Fingerprint, approvedBy, cancellationToken);
                count++;
            }
        }
        lock (_gate)
        {
            if (_byServer.TryGetValue(server, out var tools))
            {
                _byServer[server] = tools.ToDictionary(t => t.Key, t => tool is null || t.Value.UpstreamName == tool || t.Value.ExposedName == tool
                    ? t.Value with { ApprovedFingerprint = t.Value.Fingerprint, Status = ToolStatus.Active, Blocked = false }
                    : t.Value, StringComparer.Ordinal);
                Rebuild();
            }
        }
        Changed?.Invoke();
        return count;
    }

    private void Rebuild()
    {
        var all = new Dictionary<string, CatalogTool>(StringComparer.Ordinal);
        foreach (var tools in _byServer.Values)
        {
            foreach (var (name, tool) in tools)
            {
                all[name] = tool;
            }
        }
        _all = all;
    }

    // read: readOnlyHint; destructive: destructiveHint (the protocol's default when a tool may write);
    // write: may write but declares itself non-destructive; execute: runs commands or code.
    public static string CapabilityOf(Tool tool)
    {
        var annotations = tool.Annotations;
        if (annotations?.ReadOnlyHint == true)
        {
            return "read";
        }
        if (ExecutePattern().IsMatch(tool.Name))
        {
            return "execute";
        }
        return annotations?.DestructiveHint == false ? "write" : "destructive";
    }

    public static string ExposedName(string server, string tool) => Bounded(server + Separator + Sanitize(tool));

    public static string Sanitize(string name)
    {
        var builder = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' ? c : '_');
        }
        return Bounded(builder.Length == 0 ? "_" : builder.ToString());
    }

    // Names longer than 64 keep a readable head and a stable hash tail.
    private static string Bounded(string name)
    {
        if (name.Length <= 64)
        {
            return name;
        }
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..8];
        return name[..55] + "_" + hash;
    }

    public static Tool CopyWithName(Tool tool, string name) => new()
    {
        Name = name,
        Title = tool.Title,
        Description = tool.Description,
        InputSchema = tool.InputSchema,
        OutputSchema = tool.OutputSchema,
        Annotations = tool.Annotations,
        Icons = tool.Icons,
        Meta = tool.Meta,
    };

    [GeneratedRegex(@"(^|[_-])(exec|execute|run|shell|bash|eval|command|cmd|script)([_-]|$)", RegexOptions.IgnoreCase)]
    private static partial Regex ExecutePattern();
}
