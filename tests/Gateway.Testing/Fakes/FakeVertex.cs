using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Gateway.Testing.Fakes;

// Google Vertex AI with its OAuth token endpoint, speaking the real wire formats. POST /token takes the
// JWT-bearer grant and verifies the assertion as Google does (RS256 signature with the service account's
// public key, iss, aud = token_uri, scope, expiry) before issuing an access token. The model routes
// (/v1/projects/{p}/locations/{l}/publishers/{google|anthropic}/models/{model}:{method}) require one of those
// tokens and answer as Gemini (generateContent, streamGenerateContent?alt=sse) or as Claude on Vertex
// (rawPredict, streamRawPredict: anthropic_version "vertex-2023-10-16" and no model in the body).
public sealed class FakeVertex : FakeUpstream
{
    public const string AnthropicVersion = "vertex-2023-10-16";

    // One key for every instance: generating an RSA key costs more than a whole test.
    private static readonly Lazy<RSA> SharedKey = new(() => RSA.Create(2048));

    private readonly RSA _key = SharedKey.Value;
    private readonly ConcurrentDictionary<string, bool> _issued = new(StringComparer.Ordinal);

    public string Project { get; set; } = "gateway-test-123";

    public string Location { get; set; } = "us-central1";

    public string ClientEmail { get; set; } = "gateway@gateway-test-123.iam.gserviceaccount.com";

    public string KeyId { get; set; } = "0f1e2d3c4b5a69788796a5b4c3d2e1f0a1b2c3d4";

    // Answers for Gemini and Claude models: queue replies on these.
    public FakeGemini Gemini { get; } = new();

    public FakeAnthropic Anthropic { get; } = new();

    // How many access tokens the token endpoint issued (what caching should keep low).
    public int TokensIssued => _issued.Count;

    public Uri TokenUri => new(Url, "/token");

    // The clock assertions' iat and exp are checked against.
    public TimeProvider Clock { get; set; } = TimeProvider.System;

    // The service account key file as the Google Cloud console downloads it, pointing at this fake.
    public string ServiceAccountJson(RSA? signingKey = null) => new JsonObject
    {
        ["type"] = "service_account",
        ["project_id"] = Project,
        ["private_key_id"] = KeyId,
        ["private_key"] = (signingKey ?? _key).ExportPkcs8PrivateKeyPem() + "\n",
        ["client_email"] = ClientEmail,
        ["client_id"] = "109876543210987654321",
        ["auth_uri"] = "https://accounts.google.com/o/oauth2/auth",
        ["token_uri"] = TokenUri.ToString(),
    }.ToJsonString();

    public static async Task<FakeVertex> StartNewAsync()
    {
        var fake = new FakeVertex();
        await fake.StartAsync();
        return fake;
    }

    protected override void Map(WebApplication app)
    {
        app.MapPost("/token", (Delegate)TokenAsync);
        app.MapPost("/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{target}", ModelAsync);
    }

    private async Task<IResult> TokenAsync(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        if (form["grant_type"] != "urn:ietf:params:oauth:grant-type:jwt-bearer")
        {
            return Results.Json(new { error = "unsupported_grant_type", error_description = "Invalid grant_type." }, statusCode: 400);
        }
        if (Verify(form["assertion"].ToString()) is { } problem)
        {
            return Results.Json(new { error = "invalid_grant", error_description = problem }, statusCode: 400);
        }
        var token = "ya29.fake-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        _issued[token] = true;
        return Results.Json(new { access_token = token, expires_in = 3599, token_type = "Bearer" });
    }

    // Null when the assertion is one Google would accept.
    private string? Verify(string assertion)
    {
        var parts = assertion.Split('.');
        if (parts.Length != 3)
        {
            return "Invalid JWT: not a JWS compact serialization.";
        }
        using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0]));
        if (header.RootElement.GetProperty("alg").GetString() != "RS256")
        {
            return "Invalid JWT: only RS256 is accepted.";
        }
        if (header.RootElement.TryGetProperty("kid", out var kid) && kid.GetString() != KeyId)
        {
            return "Invalid JWT Signature: unknown key id.";
        }
        if (!_key.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Base64Url.DecodeFromChars(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))
        {
            return "Invalid JWT Signature.";
        }
        using var claims = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
        var root = claims.RootElement;
        var now = Clock.GetUtcNow().ToUnixTimeSeconds();
        if (root.GetProperty("iss").GetString() != ClientEmail)
        {
            return "Invalid JWT: iss is not the service account.";
        }
        if (root.GetProperty("aud").GetString() != TokenUri.ToString())
        {
            return "Invalid JWT: Failed audience check.";
        }
        if (root.GetProperty("scope").GetString()?.Split(' ').Contains("https://www.googleapis.com/auth/cloud-platform") != true)
        {
            return "Invalid JWT: the cloud-platform scope is missing.";
        }
        var iat = root.GetProperty("iat").GetInt64();
        var exp = root.GetProperty("exp").GetInt64();
        return exp <= now || iat > now + 60 || exp - iat > 3600
            ? "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."
            : null;
    }

    private async Task ModelAsync(HttpContext context, string project, string location, string publisher, string target)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        if (!authorization.StartsWith("Bearer ", StringComparison.Ordinal) || !_issued.ContainsKey(authorization["Bearer ".Length..]))
        {
            await FakeGemini.WriteErrorAsync(context.Response, 401, FakeGemini.ErrorBody(401, "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."));
            return;
        }
        if (project != Project || location != Location)
        {
            await FakeGemini.WriteErrorAsync(context.Response, 404, FakeGemini.ErrorBody(404, "NOT_FOUND", $"Project '{project}' or location '{location}' is not found."));
            return;
        }
        var colon = target.LastIndexOf(':');
        var method = colon < 0 ? "" : target[(colon + 1)..];
        var request = (await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted))!.AsObject();
        switch (publisher, method)
        {
            case ("google", "generateContent" or "streamGenerateContent"):
                await Gemini.GenerateAsync(context, request, stream: method == "streamGenerateContent");
                return;
            case ("anthropic", "rawPredict" or "streamRawPredict"):
                if (request["anthropic_version"]?.GetValue<string>() != AnthropicVersion || request.ContainsKey("model"))
                {
                    context.Response.StatusCode = 400;
                    await context.Response.WriteAsJsonAsync(new { type = "error", error = new { type = "invalid_request_error", message = "anthropic_version: vertex-2023-10-16 is required and model must not be set" } });
                    return;
                }
                if (request["stream"]?.GetValue<bool>() == true != (method == "streamRawPredict"))
                {
                    context.Response.StatusCode = 400;
                    await context.Response.WriteAsJsonAsync(new { type = "error", error = new { type = "invalid_request_error", message = "stream must be true exactly for streamRawPredict" } });
                    return;
                }
                await Anthropic.AnswerAsync(context, request);
                return;
            default:
                await FakeGemini.WriteErrorAsync(context.Response, 404, FakeGemini.ErrorBody(404, "NOT_FOUND", $"Publisher model '{publisher}/{target}' is not found."));
                return;
        }
    }
}
