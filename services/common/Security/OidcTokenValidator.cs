using System.Security.Claims;
using System.Text.Json;
using Gateway.Common.Configuration;
using Gateway.Contracts.Common.V1;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Common.Security;

// Validates OIDC bearer tokens (JWTs) against the issuer's JSON Web Key Set: signature with an allow-listed
// asymmetric algorithm (so `alg: none` and HMAC tricks fail), issuer, audience, expiry and not-before with a
// small skew. The key set is fetched from the configured URL, cached, and re-fetched when a token names an
// unknown `kid` (key rotation), at most once per minute. Roles come from a configurable claim.
public sealed partial class OidcTokenValidator(ConfigMonitor config, HttpClient http, TimeProvider time, ILogger<OidcTokenValidator> logger)
{
    private static readonly TimeSpan MinimumRefetchInterval = TimeSpan.FromMinutes(1);

    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly SemaphoreSlim _fetch = new(1, 1);
    private volatile KeyCache? _keys;

    private sealed record KeyCache(string Url, IReadOnlyList<SecurityKey> Keys, DateTimeOffset FetchedAt);

    public bool Enabled => config.Current.Mcp.Oidc is not null;

    // Null when the token is not valid for any reason; the reason is logged, never returned to the caller.
    public async Task<Principal?> ValidateAsync(string token, CancellationToken cancellationToken)
    {
        if (config.Current.Mcp.Oidc is not { } oidc || token.Length is 0 or > 16 * 1024)
        {
            return null;
        }
        JsonWebToken jwt;
        try
        {
            jwt = _handler.ReadJsonWebToken(token);
        }
        catch (ArgumentException)
        {
            return null;
        }
        if (!oidc.Algorithms.Contains(jwt.Alg, StringComparer.Ordinal))
        {
            Rejected(logger, "algorithm not allowed");
            return null;
        }
        IReadOnlyList<SecurityKey> keys;
        try
        {
            keys = await KeysAsync(oidc, jwt.Kid, cancellationToken);
        }
        catch (Exception error) when (error is HttpRequestException or JsonException or ArgumentException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            JwksUnavailable(logger, error);
            throw new OidcUnavailableException("The identity provider's key set could not be fetched.", error);
        }
        var parameters = new TokenValidationParameters
        {
            ValidIssuer = oidc.Issuer,
            ValidAudience = oidc.Audience,
            IssuerSigningKeys = keys,
            ValidAlgorithms = oidc.Algorithms,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            LifetimeValidator = (notBefore, expires, _, _) => LifetimeValid(notBefore, expires, TimeSpan.FromSeconds(oidc.ClockSkewSeconds)),
            RoleClaimType = oidc.RolesClaim,
            NameClaimType = oidc.UserClaim,
        };
        var result = await _handler.ValidateTokenAsync(jwt, parameters);
        if (!result.IsValid)
        {
            Rejected(logger, result.Exception?.GetType().Name ?? "invalid");
            return null;
        }
        return ToPrincipal(result.ClaimsIdentity, oidc);
    }

    private bool LifetimeValid(DateTime? notBefore, DateTime? expires, TimeSpan skew)
    {
        var now = time.GetUtcNow().UtcDateTime;
        return expires is { } exp && now <= exp.ToUniversalTime() + skew && (notBefore is not { } nbf || now >= nbf.ToUniversalTime() - skew);
    }

    private static Principal ToPrincipal(ClaimsIdentity identity, OidcConfig oidc)
    {
        var user = identity.FindFirst(oidc.UserClaim)?.Value ?? identity.FindFirst("sub")?.Value ?? "";
        var principal = new Principal
        {
            KeyName = "oidc:" + user,
            User = user,
            Team = identity.FindFirst(oidc.TeamClaim)?.Value ?? "",
        };
        foreach (var claim in identity.FindAll(oidc.RolesClaim))
        {
            // A JSON array claim arrives as one claim per element; a space-separated string is split.
            foreach (var role in claim.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                principal.Roles.Add(role);
            }
        }
        return principal;
    }

    private async Task<IReadOnlyList<SecurityKey>> KeysAsync(OidcConfig oidc, string? kid, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var cache = _keys;
        if (IsUsable(cache, oidc, kid, now))
        {
            return cache!.Keys;
        }
        await _fetch.WaitAsync(cancellationToken);
        try
        {
            cache = _keys;
            if (IsUsable(cache, oidc, kid, now))
            {
                return cache!.Keys;
            }
            // An unknown kid re-fetches, but not more than once a minute (a flood of bogus kids must not
            // become a flood of requests to the identity provider).
            if (cache is not null && cache.Url == oidc.JwksUrl && now - cache.FetchedAt < MinimumRefetchInterval)
            {
                return cache.Keys;
            }
            using var response = await http.GetAsync(oidc.JwksUrl, cancellationToken);
            response.EnsureSuccessStatusCode();
            var json = await response.Content.ReadAsStringAsync(cancellationToken);
            var set = new JsonWebKeySet(json) { SkipUnresolvedJsonWebKeys = true };
            var keys = set.GetSigningKeys().ToArray();
            _keys = new KeyCache(oidc.JwksUrl, keys, now);
            return keys;
        }
        finally
        {
            _fetch.Release();
        }
    }

    private static bool IsUsable(KeyCache? cache, OidcConfig oidc, string? kid, DateTimeOffset now)
        => cache is not null && cache.Url == oidc.JwksUrl
            && now - cache.FetchedAt < TimeSpan.FromSeconds(oidc.JwksCacheSeconds)
            && (string.IsNullOrEmpty(kid) || cache.Keys.Any(k => k.KeyId == kid));

    [LoggerMessage(40, LogLevel.Information, "OIDC token rejected: {Reason}")]
    private static partial void Rejected(ILogger logger, string reason);

    [LoggerMessage(41, LogLevel.Error, "OIDC key set could not be fetched")]
    private static partial void JwksUnavailable(ILogger logger, Exception exception);
}

// The identity provider could not be reached: infrastructure failure (503), not a bad credential (401).
public sealed class OidcUnavailableException(string message, Exception inner) : Exception(message, inner);
