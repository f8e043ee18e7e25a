using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Gateway.Contracts.Inference.V1;
using Gateway.Testing.Fakes;
using Grpc.Core;
using Grpc.Net.Client;
using OpenAI;
using OpenAI.Chat;

namespace Gateway.Functional.Tests.Auth;

// Identity-provider tokens (OIDC JWTs signed by a test key, served from a local JWKS endpoint) as API
// credentials on the LLM routes: claims become the principal, so budgets, guard policies and traces apply.
public sealed class OidcApiTokenTests : IAsyncLifetime
{
    private const string EntraIssuer = "https://login.microsoftonline.example/tenant-1/v2.0";

    private TestIdentityProvider _okta = null!;
    private TestIdentityProvider _entra = null!;
    private FakeOpenAi _upstream = null!;
    private TestGateway _gateway = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _okta = await TestIdentityProvider.StartAsync();
        // A second identity provider whose key set endpoint is down from the start.
        _entra = await TestIdentityProvider.StartAsync();
        _entra.Down = true;
        _upstream = await FakeOpenAi.StartNewAsync();
        _gateway = await TestGateway.StartAsync($$"""
            providers:
              openai: { kind: openai, base_url: "{{_upstream.Url}}v1", api_key: sk-upstream-secret }
            models:
              gpt-4o:
                targets: [{ provider: openai, model: gpt-4o-2024-08-06 }]
                price: { input: 0, output: 1000 }
              text-embedding-3-small:
                targets: [{ provider: openai, model: text-embedding-3-small }]
            keys:
            {{TestGateway.Key()}}
            auth:
              oidc:
                - name: okta
                  issuer: "{{TestIdentityProvider.DefaultIssuer}}"
                  audience: {{TestIdentityProvider.DefaultAudience}}
                  jwks_url: "{{_okta.JwksUrl}}"
                  user_claim: email
                  teams: { "Data Science": data-science, "Legal": legal }
                  defaults: { project: churn, environment: prod }
                - name: entra
                  issuer: "{{EntraIssuer}}"
                  audience: api://gateway
                  jwks_url: "{{_entra.JwksUrl}}"
            budgets:
              - { name: ds-monthly, scope: { team: data-science }, limit_usd: 0.25, period: month }
            guard:
              policies:
                strict:
                  entities: { default: allow, CREDIT_CARD: block }
                permissive:
                  entities: { default: allow }
              assign:
                - { scope: { team: legal }, policy: strict }
                - { scope: {}, policy: permissive }
            """);
    }

    public async ValueTask DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
        await _okta.DisposeAsync();
        await _entra.DisposeAsync();
    }

    private string Token(string group = "Data Science", string email = "alice@example.com", string issuer = TestIdentityProvider.DefaultIssuer, string audience = TestIdentityProvider.DefaultAudience, TimeSpan? expiresIn = null, RSA? signingKey = null, string kid = TestIdentityProvider.KeyId)
        => _okta.Token(new Dictionary<string, object> { ["sub"] = "00u1abc", ["email"] = email, ["groups"] = new[] { "Everyone", group } }, issuer, audience, expiresIn, signingKey, kid);

    private HttpClient Http(string credential)
    {
        var http = new HttpClient { BaseAddress = _gateway.HttpBase };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        return http;
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private async Task<HttpResponseMessage> ChatAsync(string credential, string text = "Hello", int maxTokens = 100)
    {
        using var http = Http(credential);
        return await http.PostAsync("/v1/chat/completions", Json($$"""{"model":"gpt-4o","max_tokens":{{maxTokens}},"messages":[{"role":"user","content":"{{text}}"}]}"""), Ct);
    }

    private static async Task<string?> ErrorCodeAsync(HttpResponseMessage response)
        => JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("error").GetProperty("code").GetString();

    [Fact]
    public async Task ValidToken_OpenAiSdk_PrincipalMappedFromClaimsAndDefaults()
    {
        var chat = new OpenAIClient(new ApiKeyCredential(Token(group: "Legal")), new OpenAIClientOptions { Endpoint = new Uri(_gateway.HttpBase, "/v1") }).GetChatClient("gpt-4o");

        var completion = await chat.CompleteChatAsync([new UserChatMessage("Hello")], cancellationToken: Ct);

        Assert.Equal("Echo: Hello", completion.Value.Content[0].Text);
        var trace = await _gateway.TraceAsync(completion.GetRawResponse().Headers.TryGetValue("x-request-id", out var id) ? id! : "");
        Assert.Equal("legal", trace.Principal.Team);
        Assert.Equal("alice@example.com", trace.Principal.User);
        Assert.Equal("churn", trace.Principal.Project);
        Assert.Equal("prod", trace.Principal.Environment);
        Assert.Equal("oidc:okta:alice@example.com", trace.Principal.KeyName);
        // The client's token never travels upstream.
        Assert.Equal("Bearer sk-upstream-secret", _upstream.LastRequest.Headers["authorization"]);
    }

    [Fact]
    public async Task ValidToken_AcceptedOnEveryLlmRoute()
    {
        var token = Token(group: "Legal");
        using var http = Http(token);

        using var models = await http.GetAsync("/v1/models", Ct);
        using var embeddings = await http.PostAsync("/v1/embeddings", Json("""{"model":"text-embedding-3-small","input":"hi"}"""), Ct);
        using var responses = await http.PostAsync("/v1/responses", Json("""{"model":"gpt-4o","input":"hi"}"""), Ct);
        using var messagesRequest = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = Json("""{"model":"gpt-4o","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}""") };
        messagesRequest.Headers.Add("x-api-key", token);
        messagesRequest.Headers.Add("anthropic-version", "2023-06-01");
        using var messages = await new HttpClient { BaseAddress = _gateway.HttpBase }.SendAsync(messagesRequest, Ct);
        using var channel = GrpcChannel.ForAddress(_gateway.GrpcAddress);
        var grpc = await new Inference.InferenceClient(channel).ListModelsAsync(new ListModelsRequest(), new Metadata { { "authorization", "Bearer " + token } }, cancellationToken: Ct);

        Assert.Equal(HttpStatusCode.OK, models.StatusCode);
        Assert.Equal(HttpStatusCode.OK, embeddings.StatusCode);
        Assert.Equal(HttpStatusCode.OK, responses.StatusCode);
        Assert.Equal(HttpStatusCode.OK, messages.StatusCode);
        Assert.Contains(grpc.Models, m => m.Id == "gpt-4o");
    }

    [Fact]
    public async Task ExpiredToken_Is401()
    {
        using var response = await ChatAsync(Token(expiresIn: TimeSpan.FromMinutes(-10)));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("invalid_token", await ErrorCodeAsync(response));
    }

    [Fact]
    public async Task WrongAudience_Is401()
    {
        using var response = await ChatAsync(Token(audience: "someone-else"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task WrongIssuer_Is401()
    {
        using var response = await ChatAsync(Token(issuer: "https://evil.example/"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task AlgNone_Is401()
    {
        using var response = await ChatAsync(TestIdentityProvider.Unsigned(extraClaims: ""","groups":["Data Science"]"""));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(0, _upstream.CallCount);
    }

    [Fact]
    public async Task SignedByAnotherKey_Is401()
    {
        using var other = RSA.Create(2048);
        using var response = await ChatAsync(Token(signingKey: other));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task UnknownKeyId_RefreshesTheKeySetAtMostOnceThen401()
    {
        using var other = RSA.Create(2048);
        var before = _okta.JwksFetches;

        using var first = await ChatAsync(Token(signingKey: other, kid: "rotated-key"));
        using var second = await ChatAsync(Token(signingKey: other, kid: "another-unknown-key"));

        Assert.Equal(HttpStatusCode.Unauthorized, first.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, second.StatusCode);
        // The unknown kid fetched the key set once; the next one within the minute did not fetch again.
        Assert.Equal(1, _okta.JwksFetches - before);
    }

    [Fact]
    public async Task IdentityProviderDown_Is503NotA401()
    {
        var token = _entra.Token(new Dictionary<string, object> { ["sub"] = "bob" }, issuer: EntraIssuer, audience: "api://gateway");

        using var response = await ChatAsync(token);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("identity_provider_unavailable", await ErrorCodeAsync(response));
        Assert.Equal(0, _upstream.CallCount);
    }

    [Fact]
    public async Task Budget_HardCapHitByTokenIdentifiedTeam_429WhileOtherTeamsPass()
    {
        // Each request reserves and spends $0.10 (100 output tokens at $1000/M): the $0.25 budget admits two.
        for (var i = 0; i < 3; i++)
        {
            _upstream.Replies.Enqueue(new FakeReply { Text = "ok", OutputTokens = 100 });
        }

        using var first = await ChatAsync(Token(email: "carol@example.com"));
        using var second = await ChatAsync(Token(email: "dave@example.com"));
        using var third = await ChatAsync(Token(email: "carol@example.com"));
        using var keyed = await ChatAsync(TestGateway.DefaultKey);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal((HttpStatusCode)429, third.StatusCode);
        Assert.Equal("budget_exceeded", await ErrorCodeAsync(third));
        Assert.Equal(HttpStatusCode.OK, keyed.StatusCode);
        Assert.Equal(3, _upstream.CallCount);
    }

    [Fact]
    public async Task GuardPolicy_FollowsTheTeamFromTheToken()
    {
        const string Card = "my card is 4111 1111 1111 1111";

        using var legal = await ChatAsync(Token(group: "Legal"), Card);
        using var dataScience = await ChatAsync(Token(group: "Data Science"), Card);

        Assert.Equal(HttpStatusCode.BadRequest, legal.StatusCode);
        Assert.Equal(HttpStatusCode.OK, dataScience.StatusCode);
        Assert.Equal(1, _upstream.CallCount);
    }
}
