using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Gateway.Mcp.Upstreams;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Mcp.Tests;

// Bad input on every MCP admin route: the admin API's error (the OpenAI shape, with a code and the parameter
// at fault, as on /admin/v1/budgets, prompts and traces), and the registered servers, their connections and
// their approvals exactly as before.
public sealed class AdminApiBadInputTests : IAsyncLifetime
{
    private TestGateway? _gateway;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(McpServers.Everything))
        {
            return;
        }
        _gateway = await TestGateway.StartAsync($"""
            {McpServers.Keys}
            mcp:
              servers:
            {McpServers.Stdio("fixture", McpServers.Fixture)}
              rules:
                - {"{"} roles: [admin], allow: ["*"] {"}"}
            """);
    }

    public async ValueTask DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }
    }

    public static TheoryData<string, string, string?, HttpStatusCode, string, string?> Cases => new()
    {
        // Registration: malformed JSON.
        { "POST", "/admin/v1/mcp/servers", "", HttpStatusCode.BadRequest, "invalid_json", null },
        { "POST", "/admin/v1/mcp/servers", """{"name": "x", "transport": "streamable-http", """, HttpStatusCode.BadRequest, "invalid_json", null },
        { "POST", "/admin/v1/mcp/servers", """{"name": "x"} trailing""", HttpStatusCode.BadRequest, "invalid_json", null },
        { "POST", "/admin/v1/mcp/servers", "\"a string\"", HttpStatusCode.BadRequest, "invalid_type", "body" },
        { "POST", "/admin/v1/mcp/servers", "[]", HttpStatusCode.BadRequest, "invalid_type", "body" },
        // Wrong types, each named.
        { "POST", "/admin/v1/mcp/servers", """{"transport": "streamable-http", "url": "http://127.0.0.1:9/mcp"}""", HttpStatusCode.BadRequest, "missing_required_parameter", "name" },
        { "POST", "/admin/v1/mcp/servers", """{"name": 5, "transport": "streamable-http", "url": "http://127.0.0.1:9/mcp"}""", HttpStatusCode.BadRequest, "invalid_type", "name" },
        { "POST", "/admin/v1/mcp/servers", """{"name": "x", "transport": ["streamable-http"], "url": "http://127.0.0.1:9/mcp"}""", HttpStatusCode.BadRequest, "invalid_type", "transport" },
        { "POST", "/admin/v1/mcp/servers", """{"name": "x", "transport": "streamable-http", "url": {"href": "http://127.0.0.1:9/mcp"}}""", HttpStatusCode.BadRequest, "invalid_type", "url" },
        { "POST", "/admin/v1/mcp/servers", """{"name": "x", "transport": "stdio", "command": "node", "args": "a.js"}""", HttpStatusCode.BadRequest, "invalid_type", "args" },
        { "POST", "/admin/v1/mcp/servers", """{"name": "x", "transport": "stdio", "command": "node", "args": ["a.js", 5]}""", HttpStatusCode.BadRequest, "invalid_type", "args[1]" },
        { "POST", "/admin/v1/mcp/servers", """{"name": "x", "transport": "stdio", "command": "node", "env": ["A=1"]}""", HttpStatusCode.BadRequest, "invalid_type", "env" },
        { "POST", "/admin/v1/mcp/servers", """{"name": "x", "transport": "streamable-http", "url": "http://127.0.0.1:9/mcp", "headers": {"x-a": 1}}""", HttpStatusCode.BadRequest, "invalid_type", "headers.x-a" },
        { "POST", "/admin/v1/mcp/servers", """{"name": "x", "transport": "streamable-http", "url": "http://127.0.0.1:9/mcp", "timeout_seconds": "5"}""", HttpStatusCode.BadRequest, "invalid_type", "timeout_seconds" },
        { "POST", "/admin/v1/mcp/servers", """{"name": "x", "transport": "streamable-http", "url": "http://127.0.0.1:9/mcp", "timeout_seconds": 1e400}""", HttpStatusCode.BadRequest, "invalid_type", "timeout_seconds" },
        { "POST", "/admin/v1/mcp/servers", """{"name": "x", "transport": "streamable-http", "url": "http://127.0.0.1:9/mcp", "timeout_seconds": -1}""", HttpStatusCode.BadRequest, "invalid_value", "timeout_seconds" },
        { "POST", "/admin/v1/mcp/servers", """{"name": "x", "transport": "carrier-pigeon"}""", HttpStatusCode.BadRequest, "invalid_value", "transport" },
        { "POST", "/admin/v1/mcp/servers", $$"""{"name": "{{new string('n', 200)}}", "transport": "streamable-http", "url": "http://127.0.0.1:9/mcp"}""", HttpStatusCode.BadRequest, "invalid_value", "name" },
        // Header injection through a registered server's headers: a line break would smuggle a second header upstream.
        { "POST", "/admin/v1/mcp/servers", """{"name": "x", "transport": "streamable-http", "url": "http://127.0.0.1:9/mcp", "headers": {"x-a": "v\r\nx-injected: 1"}}""", HttpStatusCode.BadRequest, "invalid_value", "headers.x-a" },
        { "POST", "/admin/v1/mcp/servers", """{"name": "x", "transport": "streamable-http", "url": "http://127.0.0.1:9/mcp", "headers": {"x a": "v"}}""", HttpStatusCode.BadRequest, "invalid_value", "headers.x a" },
        // URLs an operator could never have meant: not http(s), credentials in them, not a URL at all.
        { "POST", "/admin/v1/mcp/servers", """{"name": "x", "transport": "streamable-http", "url": "file:///etc/passwd"}""", HttpStatusCode.BadRequest, "invalid_value", "url" },
        { "POST", "/admin/v1/mcp/servers", """{"name": "x", "transport": "streamable-http", "url": "gopher://127.0.0.1:70/"}""", HttpStatusCode.BadRequest, "invalid_value", "url" },
        { "POST", "/admin/v1/mcp/servers", """{"name": "x", "transport": "streamable-http", "url": "http://user:secret@127.0.0.1:9/mcp"}""", HttpStatusCode.BadRequest, "invalid_value", "url" },
        { "POST", "/admin/v1/mcp/servers", """{"name": "x", "transport": "streamable-http", "url": "not a url"}""", HttpStatusCode.BadRequest, "invalid_value", "url" },
        // A name already taken (here by the configured server): refused, the existing one untouched.
        { "POST", "/admin/v1/mcp/servers", """{"name": "fixture", "transport": "streamable-http", "url": "http://127.0.0.1:9/mcp"}""", HttpStatusCode.Conflict, "mcp_server_exists", "name" },
        // Unknown servers and tools.
        { "DELETE", "/admin/v1/mcp/servers/nothing", null, HttpStatusCode.NotFound, "mcp_server_not_found", "name" },
        { "POST", "/admin/v1/mcp/servers/nothing/refresh", null, HttpStatusCode.NotFound, "mcp_server_not_found", "name" },
        { "POST", "/admin/v1/mcp/servers/nothing/approve", null, HttpStatusCode.NotFound, "mcp_server_not_found", "name" },
        { "POST", "/admin/v1/mcp/servers/fixture/approve?tool=nothing", null, HttpStatusCode.NotFound, "mcp_tool_not_found", "tool" },
        // A configured server is removed by editing the configuration, not through the API.
        { "DELETE", "/admin/v1/mcp/servers/fixture", null, HttpStatusCode.Conflict, "mcp_server_from_configuration", "name" },
        // The audit query.
        { "GET", "/admin/v1/mcp/audit?since=yesterday", null, HttpStatusCode.BadRequest, "invalid_parameter", "since" },
        { "GET", "/admin/v1/mcp/audit?until=%00", null, HttpStatusCode.BadRequest, "invalid_parameter", "until" },
        { "GET", "/admin/v1/mcp/audit?limit=0", null, HttpStatusCode.BadRequest, "invalid_parameter", "limit" },
        { "GET", "/admin/v1/mcp/audit?limit=1e3", null, HttpStatusCode.BadRequest, "invalid_parameter", "limit" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task BadInput_IsAnAdminErrorWithItsCodeAndParam_AndChangesNothing(string method, string path, string? body, HttpStatusCode status, string code, string? param)
    {
        McpServers.Require();
        var gateway = _gateway!;
        using var admin = McpServers.Admin(gateway);
        var before = await SnapshotAsync(gateway, admin);

        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }
        using var response = await admin.SendAsync(request, Ct);

        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(status == response.StatusCode, $"{(int)response.StatusCode}: {text}");
        AssertAdminError(response, text, code, param);
        Assert.Equal(before, await SnapshotAsync(gateway, admin));
    }

    [Fact]
    public async Task WithoutTheAdminCredential_EveryRouteAnswersTheAdminApisRefusal()
    {
        McpServers.Require();
        using var http = new HttpClient { BaseAddress = _gateway!.HttpBase };
        using var wrong = new HttpRequestMessage(HttpMethod.Delete, "/admin/v1/mcp/servers/fixture");
        wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "not-the-admin-key-0123456789");

        using var missing = await http.GetAsync("/admin/v1/mcp/servers", Ct);
        using var refused = await http.SendAsync(wrong, Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        AssertAdminError(missing, await missing.Content.ReadAsStringAsync(Ct), "invalid_admin_key", null);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        AssertAdminError(refused, await refused.Content.ReadAsStringAsync(Ct), "invalid_admin_key", null);
        Assert.NotNull(_gateway.Services.GetRequiredService<UpstreamRegistry>().Find("fixture"));
    }

    [Fact]
    public async Task ConcurrentRegistrationsOfOneName_OneWins_TheOtherIs409AndChangesNothing()
    {
        McpServers.Require();
        var gateway = _gateway!;
        using var admin = McpServers.Admin(gateway);
        var upstreams = gateway.Services.GetRequiredService<UpstreamRegistry>();
        object Register(string script) => new { name = "twin", transport = "stdio", command = "node", args = new[] { McpServers.Fixture, script } };

        var responses = await Task.WhenAll(
            admin.PostAsJsonAsync("/admin/v1/mcp/servers", Register("--first"), Ct),
            admin.PostAsJsonAsync("/admin/v1/mcp/servers", Register("--second"), Ct));
        try
        {
            Assert.Equal([HttpStatusCode.Created, HttpStatusCode.Conflict], responses.Select(r => r.StatusCode).Order());
            var loser = responses.Single(r => r.StatusCode == HttpStatusCode.Conflict);
            AssertAdminError(loser, await loser.Content.ReadAsStringAsync(Ct), "mcp_server_exists", "name");
            var winner = await responses.Single(r => r.StatusCode == HttpStatusCode.Created).Content.ReadFromJsonAsync<JsonElement>(Ct);
            Assert.Equal("twin", winner.GetProperty("name").GetString());
            // One connection under the name, with one of the two definitions (the loser's never replaced it).
            Assert.Contains(upstreams.Find("twin")!.Config.Args[1], new[] { "--first", "--second" });
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
            using var removed = await admin.DeleteAsync("/admin/v1/mcp/servers/twin", Ct);
            Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        }
    }

    private static void AssertAdminError(HttpResponseMessage response, string text, string code, string? param)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.Contains("x-request-id"));
        using var body = JsonDocument.Parse(text);
        var error = body.RootElement.GetProperty("error");
        Assert.Equal(JsonValueKind.Object, error.ValueKind);
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("type").GetString()));
        Assert.Equal(code, error.GetProperty("code").GetString());
        if (param is not null)
        {
            Assert.Equal(param, error.GetProperty("param").GetString());
        }
    }

    // The servers as the admin API lists them (tools, approvals, state) plus the connection objects themselves,
    // so a replaced connection shows even if it looks the same.
    private static async Task<string> SnapshotAsync(TestGateway gateway, HttpClient admin)
    {
        var listed = await admin.GetStringAsync("/admin/v1/mcp/servers", Ct);
        var connections = string.Join(",", gateway.Services.GetRequiredService<UpstreamRegistry>().Servers
            .Select(s => $"{s.Name}#{System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(s)}"));
        return listed + "\n" + connections;
    }
}
