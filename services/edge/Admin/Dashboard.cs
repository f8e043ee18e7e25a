namespace Gateway.Edge.Admin;

// /ui: one static page (HTML + JS, no build step) shipped inside the edge. The page holds no data; everything
// it shows comes from /admin/v1 with the admin key the user enters, so the credential guards the data.
public static class Dashboard
{
    private static readonly Lazy<byte[]> Page = new(() =>
    {
        using var stream = typeof(Dashboard).Assembly.GetManifestResourceStream("Gateway.Edge.Admin.ui.index.html")
            ?? throw new InvalidOperationException("The dashboard page is missing from the build.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/ui", ServeAsync);
        return endpoints;
    }

    private static async Task ServeAsync(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers.ContentType = "text/html; charset=utf-8";
        headers.CacheControl = "no-store";
        headers["X-Content-Type-Options"] = "nosniff";
        headers["X-Frame-Options"] = "DENY";
        headers["Content-Security-Policy"] = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
        await context.Response.Body.WriteAsync(Page.Value, context.RequestAborted);
    }
}
