using Gateway.Common.Configuration;
using Gateway.Common.Security;
using Gateway.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Common.Tests.Security;

// A validated token is remembered so its signature is not checked on every request; remembering must never
// make a token live longer than its expiry or let a caller alter what later callers get.
public sealed class OidcValidatedTokenTests : IAsyncLifetime
{
    private TestIdentityProvider _idp = null!;
    private FakeTimeProvider _time = null!;
    private OidcTokenValidator _validator = null!;

    public async ValueTask InitializeAsync()
    {
        _idp = await TestIdentityProvider.StartAsync();
        _time = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        var config = ConfigLoader.Parse(Configuration.ConfigAssert.ProviderAndModel + $$"""

            auth:
              oidc:
                - name: okta
                  issuer: "{{TestIdentityProvider.DefaultIssuer}}"
                  audience: {{TestIdentityProvider.DefaultAudience}}
                  jwks_url: "{{_idp.JwksUrl}}"
                  clock_skew_seconds: 0
            """, Configuration.ConfigAssert.NoEnvironment);
        var monitor = new ConfigMonitor(config, null, NullLogger<ConfigMonitor>.Instance);
        _validator = new OidcTokenValidator(monitor, new OneClient(), _time, NullLogger<OidcTokenValidator>.Instance);
    }

    public async ValueTask DisposeAsync() => await _idp.DisposeAsync();

    [Fact]
    public async Task RememberedToken_StillExpiresOnTime()
    {
        var token = _idp.Token(expiresIn: TimeSpan.FromSeconds(30));
        SyncClock();

        Assert.NotNull(await _validator.ValidateApiTokenAsync(token, TestContext.Current.CancellationToken));
        _time.Advance(TimeSpan.FromSeconds(20));
        Assert.NotNull(await _validator.ValidateApiTokenAsync(token, TestContext.Current.CancellationToken));
        _time.Advance(TimeSpan.FromSeconds(11));

        Assert.Null(await _validator.ValidateApiTokenAsync(token, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task RememberedToken_EachCallerGetsItsOwnPrincipal()
    {
        var token = _idp.Token();
        SyncClock();
        var first = await _validator.ValidateApiTokenAsync(token, TestContext.Current.CancellationToken);
        first!.Team = "tampered";

        var second = await _validator.ValidateApiTokenAsync(token, TestContext.Current.CancellationToken);

        Assert.NotEqual("tampered", second!.Team);
        Assert.Equal(1, _idp.JwksFetches);
    }

    // The token is stamped with the real clock (not before = now) and there is no skew: start the fake clock
    // there, or a slow machine puts the token in the validator's future.
    private void SyncClock() => _time.SetUtcNow(TimeProvider.System.GetUtcNow());

    private sealed class OneClient : IHttpClientFactory
    {
        public HttpClient CreateClient(string name) => new();
    }
}
