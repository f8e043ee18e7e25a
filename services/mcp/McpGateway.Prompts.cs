using Gateway.Contracts.Common.V1;
using Gateway.Mcp.Catalog;
using Gateway.Mcp.Policy;
using Gateway.Mcp.Upstreams;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Gateway.Mcp;

// Upstream prompts and resources, namespaced and authorized like tools: a prompt is `server__prompt`; a
// resource keeps its URI (tool results link to it) and is granted by `server__<resource name>`. Both are the
// `read` capability class. A URI is routed to the upstream that listed it, or whose resource template's fixed
// head it starts with (the longest wins).
public sealed partial class McpGateway
{
    private const string ReadCapability = "read";
    private const McpErrorCode ResourceNotFound = (McpErrorCode)(-32002);

    // The upstreams a virtual server (null: /mcp) shows.
    private IEnumerable<UpstreamConnection> ServersIn(string? virtualName)
    {
        if (virtualName is null)
        {
            return upstreams.Servers;
        }
        return config.Current.Mcp.Virtual.TryGetValue(virtualName, out var view)
            ? view.Servers.Select(upstreams.Find).OfType<UpstreamConnection>()
            : [];
    }

    // Whether the caller may see an item: granted by a rule, and inside the virtual server's tool patterns.
    private bool MayRead(string? virtualName, Principal principal, string exposedName)
    {
        if (virtualName is not null && config.Current.Mcp.Virtual.TryGetValue(virtualName, out var view)
            && view.Tools.Count > 0 && !view.Tools.Any(p => Glob.Matches(p, exposedName)))
        {
            return false;
        }
        return policy.IsAllowed(principal, exposedName, ReadCapability);
    }

    private string ShownName(string? virtualName, string exposedName, string upstreamName)
        => virtualName is not null && config.Current.Mcp.Virtual.TryGetValue(virtualName, out var view) && !view.Prefix
            ? ToolCatalog.Sanitize(upstreamName)
            : exposedName;

    // What of one kind (prompts, resources, templates) this caller may read through this endpoint, with the
    // name it is shown under.
    private IEnumerable<(UpstreamConnection Server, T Item, string Shown)> Readable<T>(string? virtualName, Principal principal,
        Func<UpstreamConnection, IEnumerable<T>> items, Func<T, string> name)
    {
        foreach (var server in ServersIn(virtualName))
        {
            foreach (var item in items(server))
            {
                var exposed = ToolCatalog.ExposedName(server.Name, name(item));
                if (MayRead(virtualName, principal, exposed))
                {
                    yield return (server, item, ShownName(virtualName, exposed, name(item)));
                }
            }
        }
    }

    private IEnumerable<(UpstreamConnection Server, Prompt Prompt, string Shown)> PromptsFor(string? virtualName, Principal principal)
        => Readable(virtualName, principal, s => s.Prompts, p => p.Name);

    public ValueTask<ListPromptsResult> ListPromptsAsync(string? virtualName, RequestContext<ListPromptsRequestParams> context)
    {
        var principal = PrincipalOf(context.User);
        var prompts = PromptsFor(virtualName, principal).Select(p => new Prompt
        {
            Name = p.Shown,
            Title = p.Prompt.Title,
            Description = p.Prompt.Description,
            Arguments = p.Prompt.Arguments,
            Icons = p.Prompt.Icons,
            Meta = p.Prompt.Meta,
        }).ToList();
        return ValueTask.FromResult(new ListPromptsResult { Prompts = prompts });
    }

    public async ValueTask<GetPromptResult> GetPromptAsync(string? virtualName, RequestContext<GetPromptRequestParams> context, CancellationToken cancellationToken)
    {
        var request = context.Params ?? throw new McpProtocolException("Missing params.", McpErrorCode.InvalidParams);
        var principal = PrincipalOf(context.User);
        var (server, prompt, _) = PromptsFor(virtualName, principal).FirstOrDefault(p => p.Shown == request.Name);
        if (server is null)
        {
            throw new McpProtocolException($"Prompt '{request.Name}' is not available to this identity.", (McpErrorCode)DeniedCode);
        }
        return await Upstream(request.Name, () => server.GetPromptAsync(new GetPromptRequestParams { Name = prompt.Name, Arguments = request.Arguments }, cancellationToken));
    }

    private IEnumerable<(UpstreamConnection Server, Resource Resource, string Shown)> ResourcesFor(string? virtualName, Principal principal)
        => Readable(virtualName, principal, s => s.Resources, r => r.Name);

    private IEnumerable<(UpstreamConnection Server, ResourceTemplate Template, string Shown)> TemplatesFor(string? virtualName, Principal principal)
        => Readable(virtualName, principal, s => s.ResourceTemplates, t => t.Name);

    public ValueTask<ListResourcesResult> ListResourcesAsync(string? virtualName, RequestContext<ListResourcesRequestParams> context)
    {
        var principal = PrincipalOf(context.User);
        var resources = ResourcesFor(virtualName, principal).Select(r => new Resource
        {
            Uri = r.Resource.Uri,
            Name = r.Shown,
            Title = r.Resource.Title,
            Description = r.Resource.Description,
            MimeType = r.Resource.MimeType,
            Size = r.Resource.Size,
            Annotations = r.Resource.Annotations,
            Icons = r.Resource.Icons,
            Meta = r.Resource.Meta,
        }).ToList();
        return ValueTask.FromResult(new ListResourcesResult { Resources = resources });
    }

    public ValueTask<ListResourceTemplatesResult> ListResourceTemplatesAsync(string? virtualName, RequestContext<ListResourceTemplatesRequestParams> context)
    {
        var principal = PrincipalOf(context.User);
        var templates = TemplatesFor(virtualName, principal).Select(t => new ResourceTemplate
        {
            UriTemplate = t.Template.UriTemplate,
            Name = t.Shown,
            Title = t.Template.Title,
            Description = t.Template.Description,
            MimeType = t.Template.MimeType,
            Annotations = t.Template.Annotations,
            Icons = t.Template.Icons,
            Meta = t.Template.Meta,
        }).ToList();
        return ValueTask.FromResult(new ListResourceTemplatesResult { ResourceTemplates = templates });
    }

    public async ValueTask<ReadResourceResult> ReadResourceAsync(string? virtualName, RequestContext<ReadResourceRequestParams> context, CancellationToken cancellationToken)
    {
        var request = context.Params ?? throw new McpProtocolException("Missing params.", McpErrorCode.InvalidParams);
        var principal = PrincipalOf(context.User);
        var server = ResourcesFor(virtualName, principal).FirstOrDefault(r => r.Resource.Uri == request.Uri).Server
            ?? TemplatesFor(virtualName, principal)
                .Select(t => (t.Server, Head: TemplateHead(t.Template.UriTemplate)))
                .Where(t => t.Head.Length > 0 && request.Uri.StartsWith(t.Head, StringComparison.Ordinal))
                .OrderByDescending(t => t.Head.Length)
                .FirstOrDefault().Server;
        if (server is null)
        {
            // Unknown and not-allowed resources get the same answer, as for tools.
            throw new McpProtocolException($"Resource '{request.Uri}' is not available to this identity.", ResourceNotFound);
        }
        return await Upstream(request.Uri, () => server.ReadResourceAsync(new ReadResourceRequestParams { Uri = request.Uri }, cancellationToken));
    }

    // The fixed part of a URI template before its first expression: `test://dynamic/resource/{id}` → `test://dynamic/resource/`.
    private static string TemplateHead(string template)
    {
        var brace = template.IndexOf('{', StringComparison.Ordinal);
        return brace < 0 ? template : template[..brace];
    }

    private static async Task<T> Upstream<T>(string item, Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (McpProtocolException error)
        {
            throw new McpProtocolException(error.Message, error.ErrorCode);
        }
        catch (Exception error) when (error is UpstreamUnavailableException or McpException or IOException or HttpRequestException or InvalidOperationException or ObjectDisposedException)
        {
            throw new McpProtocolException($"'{item}' is unavailable right now; its server is restarting.", (McpErrorCode)UnavailableCode);
        }
    }
}
