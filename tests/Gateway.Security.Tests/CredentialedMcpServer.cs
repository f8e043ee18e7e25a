using System.ComponentModel;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Server;

namespace Gateway.Security.Tests;

// A Streamable HTTP MCP server (the official SDK) that demands a bearer credential, as a hosted MCP
// upstream would: the gateway injects it from mcp.servers.NAME.headers.
public sealed class CredentialedMcpServer : IAsyncDisposable
{
    private WebApplication _app = null!;

    public Uri Url { get; private set; } = null!;

    public int Refused;

    public static async Task<CredentialedMcpServer> StartAsync(string credential)
    {
        var server = new CredentialedMcpServer();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Services.AddMcpServer().WithHttpTransport(o => o.Stateless = true).WithTools<EchoTools>();
        server._app = builder.Build();
        server._app.Use(async (context, next) =>
        {
            if (context.Request.Headers.Authorization != "Bearer " + credential)
            {
                Interlocked.Increment(ref server.Refused);
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                return;
            }
            await next(context);
        });
        server._app.MapMcp("/mcp");
        await server._app.StartAsync();
        server.Url = new Uri(server._app.Urls.First().TrimEnd('/') + "/mcp");
        return server;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [McpServerToolType]
    public sealed class EchoTools
    {
        [McpServerTool(Name = "echo", ReadOnly = true), Description("Echoes the text back.")]
        public static string Echo([Description("Text to echo.")] string text) => "echo: " + text;
    }
}
