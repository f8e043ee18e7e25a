using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Gateway.Testing.Fakes;

// The EC2 instance metadata service, IMDSv2 only: PUT /latest/api/token (with the TTL header) issues a
// session token; the role list and the role's temporary credentials answer only with that token, 401 without.
public sealed class FakeImds : FakeUpstream
{
    private const string Token = "AQAEAFakeImdsSessionToken==";

    public string RoleName { get; set; } = "gateway-bedrock-role";

    public string AccessKeyId { get; set; } = "ASIAFAKEROLEKEY00001";

    public string SecretAccessKey { get; set; } = "fake/role/secret/key/0123456789abcdefghij";

    public string SessionToken { get; set; } = "FQoGZXIvYXdzEFakeRoleSessionToken//////////wEaDA==";

    public DateTimeOffset Expiration { get; set; } = TimeProvider.System.GetUtcNow().AddHours(6);

    // How many times the role's credentials were fetched (what caching should keep low).
    public int CredentialFetches;

    protected override void Map(WebApplication app)
    {
        app.MapPut("/latest/api/token", (HttpContext context) =>
            string.IsNullOrEmpty(context.Request.Headers["X-aws-ec2-metadata-token-ttl-seconds"])
                ? Results.BadRequest()
                : Results.Text(Token));
        app.MapGet("/latest/meta-data/iam/security-credentials/", (HttpContext context) =>
            Authorized(context) ? Results.Text(RoleName + "\n") : Results.Unauthorized());
        app.MapGet("/latest/meta-data/iam/security-credentials/{role}", (HttpContext context, string role) =>
        {
            if (!Authorized(context))
            {
                return Results.Unauthorized();
            }
            if (role != RoleName)
            {
                return Results.NotFound();
            }
            Interlocked.Increment(ref CredentialFetches);
            return Results.Json(new Dictionary<string, string>
            {
                ["Code"] = "Success",
                ["LastUpdated"] = TimeProvider.System.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
                ["Type"] = "AWS-HMAC",
                ["AccessKeyId"] = AccessKeyId,
                ["SecretAccessKey"] = SecretAccessKey,
                ["Token"] = SessionToken,
                ["Expiration"] = Expiration.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
            });
        });
    }

    private static bool Authorized(HttpContext context) => context.Request.Headers["X-aws-ec2-metadata-token"] == Token;
}
