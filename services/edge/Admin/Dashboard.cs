namespace Gateway.Edge.Admin;

// /ui (traces) and /ui/mcp-audit (MCP tool calls): static pages (HTML + JS, no build step) shipped inside the
// edge. The pages hold no data; everything they show comes from /admin/v1 with the admin key the user enters,
// so the credential guards the data.
public static class Dashboard
{
    private static readonly Lazy<byte[]> TracesPage = new(() => Load("index.html"));
    private static readonly Lazy<byte[]> McpAuditPage = new(() => Load("mcp-audit.html"));

    private static byte[] Load(string file)
    {
        using var stream = typeof(Dashboard).Assembly.GetManifestResourceStream("Gateway.Edge.Admin.ui." + file)
            ?? throw new InvalidOperationException($"The dashboard page {file} is missing from the build.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/ui", context => ServeAsync(context, TracesPage.Value));
        endpoints.MapGet("/ui/mcp-audit", context => ServeAsync(context, McpAuditPage.Value));
        return endpoints;
    }

    private static async Task ServeAsync(HttpContext context, byte[] page)
    {
        var headers = context.Response.Headers;
        headers.ContentType = "text/html; charset=utf-8";
        headers.CacheControl = "no-store";
        headers["X-Content-Type-Options"] = "nosniff";
        headers["X-Frame-Options"] = "DENY";
        headers["Content-Security-Policy"] = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
        await context.Response.Body.WriteAsync(page, context.RequestAborted);
    }
}
