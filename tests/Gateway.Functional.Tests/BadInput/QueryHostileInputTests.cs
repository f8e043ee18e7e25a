using System.Net.Http.Headers;

namespace Gateway.Functional.Tests.BadInput;

// Hostile query strings, path segments and credentials on the read-only routes (/v1/models and the admin
// API): a 4xx in the route's error shape, never a 5xx, and nothing changes.
[Collection(HostileCollection.Name)]
public sealed class QueryHostileInputTests(HostileGateway fixture)
{
    private static readonly string Huge = new('9', 400);

    public static TheoryData<string> AdminPaths =>
    [
        "/admin/v1/traces?from=99999999999999999999",
        "/admin/v1/traces?from=9999999999999999",
        "/admin/v1/traces?to=-1",
        "/admin/v1/traces?from=not-a-time",
        "/admin/v1/traces?limit=1e400",
        "/admin/v1/traces?limit=-5",
        "/admin/v1/traces?limit=" + Huge,
        "/admin/v1/traces?prompt_version=" + Huge,
        "/admin/v1/traces?status=%00",
        "/admin/v1/traces?cursor=%FF%FE%00garbage",
        "/admin/v1/traces?cursor=" + new string('A', 4000),
        "/admin/v1/traces/stats/series?bucket=1e400",
        "/admin/v1/traces/stats/series?bucket=" + Huge,
        "/admin/v1/traces/stats/series?group_by=%00",
        "/admin/v1/traces/stats/latency?group_by=" + new string('x', 4000),
        "/admin/v1/traces/" + new string('r', 4000),
        "/admin/v1/prompts/hostile/diff?from=" + Huge + "&to=1",
        "/admin/v1/prompts/hostile/diff?from=-1&to=1",
        "/admin/v1/prompts/hostile/versions/" + Huge,
        "/admin/v1/prompts/" + new string('p', 4000) + "/versions",
        "/admin/v1/prompts/hostile/experiments/" + new string('e', 4000),
        "/admin/v1/mcp/audit?limit=" + Huge,
        "/admin/v1/mcp/audit?since=not-a-time",
        "/admin/v1/mcp/audit?limit=-1",
    ];

    [Theory]
    [MemberData(nameof(AdminPaths))]
    public async Task AdminGet_HostileQuery_Is4xxAndChangesNothing(string path)
    {
        var before = await fixture.SnapshotAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", HostileGateway.AdminKey);

        var response = await fixture.Http.SendAsync(request, TestContext.Current.CancellationToken);

        var status = (int)response.StatusCode;
        Assert.True(status is >= 400 and < 500, $"{path}: HTTP {status}: {await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)}");
        // Every admin route, the MCP section included, answers in the OpenAI shape.
        await HostileGateway.AssertOpenAiShapeAsync(response);
        Assert.Equal(before, await fixture.SnapshotAsync());
    }

    public static TheoryData<string> HostileKeys =>
    [
        new string('k', 60 * 1024),
        "key\twith\ttabs",
        "Bearer Bearer Bearer",
        "%00%0d%0a",
    ];

    [Theory]
    [MemberData(nameof(HostileKeys))]
    public async Task Models_HostileKey_Is401InOpenAiShape(string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + key);

        var response = await fixture.Http.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, response.StatusCode);
        await HostileGateway.AssertOpenAiShapeAsync(response);
    }
}
