using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Security.Tests;

// Every /admin route, taken from the running gateway's route table (not a hand-kept list, so a route added
// later is covered too), refuses a request without the admin credential or with a wrong one.
public sealed class AdminAuthTests : IAsyncLifetime
{
    private TestGateway _gateway = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _gateway = await TestGateway.StartAsync($$"""
            providers:
              openai: { kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-upstream-0123456789 }
            models:
              gpt-4o: { targets: [{ provider: openai, model: gpt-4o }] }
            keys:
            {{TestGateway.Key()}}
            """);
    }

    public async ValueTask DisposeAsync() => await _gateway.DisposeAsync();

    // (method, concrete path) for every endpoint whose route starts with /admin.
    private List<(string Method, string Path)> AdminRoutes()
    {
        var routes = new List<(string, string)>();
        foreach (var source in _gateway.Services.GetServices<EndpointDataSource>())
        {
            foreach (var endpoint in source.Endpoints.OfType<RouteEndpoint>())
            {
                var pattern = endpoint.RoutePattern;
                if (pattern.RawText is not { } raw || !raw.TrimStart('/').StartsWith("admin", StringComparison.Ordinal))
                {
                    continue;
                }
                var path = "/" + string.Join("/", pattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
                {
                    Microsoft.AspNetCore.Routing.Patterns.RoutePatternLiteralPart literal => literal.Content,
                    Microsoft.AspNetCore.Routing.Patterns.RoutePatternSeparatorPart separator => separator.Content,
                    _ => "x1",
                }))));
                var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET", "POST", "PUT", "DELETE"];
                routes.AddRange(methods.Select(m => (m, path)));
            }
        }
        return routes.Distinct().ToList();
    }

    [Fact]
    public async Task EveryAdminRoute_WithoutOrWithAWrongCredential_Is401()
    {
        var routes = AdminRoutes();
        // The route table holds the known families; a sanity check that enumeration works.
        Assert.Contains(routes, r => r.Path.StartsWith("/admin/v1/traces", StringComparison.Ordinal));
        Assert.Contains(routes, r => r.Path.StartsWith("/admin/v1/mcp", StringComparison.Ordinal));
        Assert.Contains(routes, r => r.Path.StartsWith("/admin/v1/prompts", StringComparison.Ordinal));
        Assert.Contains(routes, r => r.Path.StartsWith("/admin/v1/budgets", StringComparison.Ordinal));
        using var http = new HttpClient { BaseAddress = _gateway.HttpBase };
        var failures = new List<string>();
        foreach (var (method, path) in routes)
        {
            foreach (var credential in new[] { null, "Bearer wrong-admin-key-0123456789", "Bearer " + TestGateway.DefaultKey, "Basic dGVzdC1hZG1pbi1rZXktMDEyMzQ1Njc4OQ==" })
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), path);
                if (credential is not null)
                {
                    request.Headers.TryAddWithoutValidation("Authorization", credential);
                }
                if (method is "POST" or "PUT" or "PATCH")
                {
                    request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
                }
                using var response = await http.SendAsync(request, Ct);
                // A gateway key names a principal: routes that admit some gateway keys (by role) answer 403.
                var refused = response.StatusCode == HttpStatusCode.Unauthorized
                    || (credential == "Bearer " + TestGateway.DefaultKey && response.StatusCode == HttpStatusCode.Forbidden);
                if (!refused)
                {
                    failures.Add($"{method} {path} with {credential ?? "no credential"}: {(int)response.StatusCode}");
                }
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task EveryAdminRoute_WithTheAdminCredential_IsNot401()
    {
        using var http = new HttpClient { BaseAddress = _gateway.HttpBase };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "test-admin-key-0123456789");
        foreach (var (method, path) in AdminRoutes().Where(r => r.Method == "GET"))
        {
            using var response = await http.GetAsync(path, Ct);
            Assert.True(response.StatusCode != HttpStatusCode.Unauthorized, $"{method} {path}: 401 with the admin key");
        }
    }
}
