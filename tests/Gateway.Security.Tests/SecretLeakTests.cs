using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Gateway.Common.Hosting;
using Gateway.Edge.Cli;
using Gateway.Testing.Fakes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using OpenTelemetry.Trace;

namespace Gateway.Security.Tests;

// A realistic slice of gateway activity with recognisable secrets, then every output the gateway produced is
// searched for each secret (plain, URL-encoded, base64, base64url, hex): logs (every Serilog event with its
// properties, and the console), OpenTelemetry spans, the trace and state stores on disk, the admin API,
// the dashboard, /metrics, the MCP audit, and every response a client received.
public sealed class SecretLeakTests
{
    private const string GatewayKey = "gwkey-LEAK-5c1e9a7d3b8f4e26";
    private const string ProviderKey = "sk-provider-LEAK-0b7d4c19e2a8";
    private const string AdminKey = "test-admin-key-0123456789";
    private const string McpCredential = "mcp-upstream-LEAK-94be1d7c";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task FullActivity_NoSecretAppearsInAnyOutput()
    {
        using var console = new ConsoleTee();
        var logs = new CapturingLoggerProvider();
        var spans = new List<Activity>();
        await using var identity = await TestIdentityProvider.StartAsync();
        await using var upstream = await FakeOpenAi.StartNewAsync();
        await using var mcpServer = await CredentialedMcpServer.StartAsync(McpCredential);
        var token = identity.Token(new Dictionary<string, object> { ["sub"] = "00u-alice", ["email"] = "alice@example.com" });
        await using var gateway = await TestGateway.StartAsync($$"""
            providers:
              openai: { kind: openai, base_url: "{{upstream.Url}}v1", api_key: "{{ProviderKey}}" }
            models:
              gpt-4o:
                targets: [{ provider: openai, model: gpt-4o }]
                price: { input: 1, output: 2 }
            traces:
              capture: { default: full }
            auth:
              oidc:
                - { name: okta, issuer: "{{TestIdentityProvider.DefaultIssuer}}", audience: {{TestIdentityProvider.DefaultAudience}}, jwks_url: "{{identity.JwksUrl}}", user_claim: email }
            mcp:
              servers:
                tools: { transport: streamable-http, url: "{{mcpServer.Url}}", headers: { Authorization: "Bearer {{McpCredential}}" } }
              rules:
                - { roles: [agent], allow: ["tools__*"] }
            keys:
            {{TestGateway.Key(key: GatewayKey, extra: ", roles: [agent]")}}
            """,
            configure: builder =>
            {
                builder.Logging.AddProvider(logs);
                builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing
                    .AddSource(GatewayDefaults.ActivitySourceName)
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddInMemoryExporter(spans));
            });
        var received = new StringBuilder();
        var requestIds = new List<string>();
        using var http = new HttpClient { BaseAddress = gateway.HttpBase };

        async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? credential, string? json = null, string scheme = "Bearer")
        {
            using var request = new HttpRequestMessage(method, path);
            if (credential is not null)
            {
                if (scheme == "x-api-key")
                {
                    request.Headers.Add("x-api-key", credential);
                }
                else
                {
                    request.Headers.Authorization = new AuthenticationHeaderValue(scheme, credential);
                }
            }
            if (path == "/v1/messages")
            {
                request.Headers.Add("anthropic-version", "2023-06-01");
            }
            if (json is not null)
            {
                request.Content = new StringContent(json, Encoding.UTF8, "application/json");
            }
            var response = await http.SendAsync(request, Ct);
            var body = await response.Content.ReadAsStringAsync(Ct);
            received.AppendLine($"{method} {path} -> {(int)response.StatusCode} {response.Headers} {response.Content.Headers}\n{body}");
            if (path.StartsWith("/v1/", StringComparison.Ordinal) && response.Headers.TryGetValues("x-request-id", out var ids))
            {
                requestIds.Add(ids.First());
            }
            return response;
        }

        const string Chat = """{"model":"gpt-4o","max_tokens":20,"messages":[{"role":"user","content":"hello"}]}""";
        const string Stream = """{"model":"gpt-4o","max_tokens":20,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hello"}]}""";

        // Chat and stream with a gateway key, the Anthropic surface with x-api-key, a token from the identity provider.
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, "/v1/chat/completions", GatewayKey, Chat)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, "/v1/chat/completions", GatewayKey, Stream)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, "/v1/messages", GatewayKey, Chat, "x-api-key")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, "/v1/chat/completions", token, Chat)).StatusCode);
        // The provider refuses the gateway's key and quotes it back, in a 401 and in a 400.
        upstream.Replies.Enqueue(FakeReply.Error(401, $$$"""{"error":{"message":"Incorrect API key provided: {{{ProviderKey}}}.","type":"invalid_request_error","code":"invalid_api_key"}}"""));
        Assert.Equal(HttpStatusCode.BadGateway, (await SendAsync(HttpMethod.Post, "/v1/chat/completions", GatewayKey, Chat)).StatusCode);
        upstream.Replies.Enqueue(FakeReply.Error(400, $$$"""{"error":{"message":"Request with key {{{ProviderKey}}} has an invalid 'temperature'.","type":"invalid_request_error","code":null}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(HttpMethod.Post, "/v1/chat/completions", GatewayKey, Chat)).StatusCode);
        // Near misses of the gateway key and of the admin key: a refusal that echoed them would leak a prefix.
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(HttpMethod.Post, "/v1/chat/completions", GatewayKey + "x", Chat)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(HttpMethod.Post, "/v1/messages", GatewayKey + "x", Chat, "x-api-key")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(HttpMethod.Get, "/admin/v1/traces", AdminKey + "x")).StatusCode);

        // An agent calls a tool on the credentialed MCP upstream through /mcp.
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(gateway.HttpBase, "/mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + GatewayKey },
        });
        await using (var mcp = await McpClient.CreateAsync(transport, cancellationToken: Ct))
        {
            var tools = await mcp.ListToolsAsync(cancellationToken: Ct);
            Assert.Contains(tools, t => t.Name == "tools__echo");
            var result = await mcp.CallToolAsync("tools__echo", new Dictionary<string, object?> { ["text"] = "ping" }, cancellationToken: Ct);
            var text = string.Concat(result.Content.OfType<TextContentBlock>().Select(t => t.Text));
            Assert.Equal("echo: ping", text);
            received.AppendLine(JsonSerializer.Serialize(tools.Select(t => t.ProtocolTool))).AppendLine(text);
        }

        // An operator makes a key with the CLI; the configuration gets only its hash; the key then works.
        using var cliOutput = new StringWriter();
        Assert.True(KeysCommand.TryRun(["keys", "create", "--name", "cli-made", "--team", "qa"], cliOutput, out var exitCode));
        Assert.Equal(0, exitCode);
        var cliKey = cliOutput.ToString().Split('\n').Single(l => l.StartsWith("key: ", StringComparison.Ordinal))["key: ".Length..].Trim();
        var configLine = cliOutput.ToString().Split('\n').Single(l => l.TrimStart().StartsWith("- { name: cli-made", StringComparison.Ordinal)).TrimEnd();
        await gateway.EditConfigAsync(yaml => yaml.Replace("keys:\n", "keys:\n" + configLine + "\n", StringComparison.Ordinal));
        Assert.DoesNotContain(cliKey, await File.ReadAllTextAsync(gateway.ConfigPath, Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, "/v1/chat/completions", cliKey, Chat)).StatusCode);

        // Everything is in the trace store before the admin API and the dashboard are read.
        foreach (var id in requestIds)
        {
            await gateway.TraceAsync(id);
        }
        await WaitForAuditAsync(http);
        using (var traces = await SendAsync(HttpMethod.Get, "/admin/v1/traces?limit=100", AdminKey))
        {
            Assert.Equal(HttpStatusCode.OK, traces.StatusCode);
        }
        foreach (var id in requestIds)
        {
            await SendAsync(HttpMethod.Get, $"/admin/v1/traces/{id}", AdminKey);
        }
        foreach (var path in new[] { "/admin/v1/traces/stats/series", "/admin/v1/traces/stats/latency", "/admin/v1/mcp/servers", "/admin/v1/mcp/audit", "/admin/v1/budgets", "/admin/v1/routing", "/ui", "/ui/mcp-audit", "/metrics", "/v1/models" })
        {
            var credential = path.StartsWith("/v1/", StringComparison.Ordinal) ? GatewayKey : AdminKey;
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Get, path, credential)).StatusCode);
        }

        var outputs = new Dictionary<string, string>
        {
            ["logs"] = string.Join("\n", logs.Lines),
            ["console"] = console.Captured,
            ["spans"] = Secret.Spans(spans),
            ["client responses, admin API, dashboard, /metrics"] = received.ToString(),
        };
        foreach (var file in Directory.EnumerateFiles(gateway.DataDirectory, "*", SearchOption.AllDirectories)
            // The trace spool's lock file is held exclusively while the gateway runs, and never written to.
            .Where(f => !f.EndsWith("gateway.yaml", StringComparison.Ordinal) && Path.GetFileName(f) != ".lock"))
        {
            // SQLite files (and their -wal journals) read as bytes: a secret stored in any column shows up here.
            outputs[Path.GetFileName(file)] = Encoding.Latin1.GetString(await ReadSharedAsync(file));
        }
        Assert.Contains(outputs, o => o.Key.StartsWith("traces.db", StringComparison.Ordinal));
        // Each capture saw the gateway at work, so an empty search proves something.
        Assert.Contains(logs.Lines, l => l.Contains("Gateway ready", StringComparison.Ordinal));
        Assert.Contains("Gateway ready", console.Captured, StringComparison.Ordinal);
        Assert.NotEmpty(spans);

        Secret[] secrets =
        [
            new("gateway key", GatewayKey),
            new("CLI-made gateway key", cliKey),
            new("provider key", ProviderKey),
            new("admin key", AdminKey),
            new("OIDC token", token),
            new("OIDC token signature", token[(token.LastIndexOf('.') + 1)..]),
            new("MCP upstream credential", McpCredential),
        ];
        var leaks = (from secret in secrets
                     from output in outputs
                     let form = secret.FoundIn(output.Value)
                     where form is not null
                     select $"{secret.Name} found in {output.Key} (as '{form}')").ToList();
        Assert.True(leaks.Count == 0, string.Join("\n", leaks));
        // The credential did reach the MCP upstream, where it belongs.
        Assert.Equal(0, mcpServer.Refused);
    }

    private static async Task WaitForAuditAsync(HttpClient http)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/admin/v1/mcp/audit");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
            using var response = await http.SendAsync(request, Ct);
            if ((await response.Content.ReadAsStringAsync(Ct)).Contains("echo", StringComparison.Ordinal))
            {
                return;
            }
            await Task.Delay(100, Ct);
        }
        Assert.Fail("The MCP audit never showed the tool call.");
    }

    private static async Task<byte[]> ReadSharedAsync(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, Ct);
        return copy.ToArray();
    }
}
