using System.Collections.Concurrent;
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
// small skew. Each key set is fetched from its configured URL, cached, and re-fetched when a token names an
// unknown `kid` (key rotation), at most once per minute. Claims map onto the gateway's principal.
// A singleton: the key caches must outlive a request.
public sealed partial class OidcTokenValidator(ConfigMonitor config, IHttpClientFactory httpFactory, TimeProvider time, ILogger<OidcTokenValidator> logger)
{
    public const string HttpClientName = "oidc-jwks";

    private static readonly TimeSpan MinimumRefetchInterval = TimeSpan.FromMinutes(1);

    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly SemaphoreSlim _fetch = new(1, 1);
    private readonly ConcurrentDictionary<string, KeyCache> _keys = new(StringComparer.Ordinal);

    private sealed record KeyCache(IReadOnlyList<SecurityKey> Keys, DateTimeOffset FetchedAt);

    // A client sends the same token on every request until it expires; checking its RSA/ECDSA signature each
    // time cost more than the rest of authentication. A validated token is remembered (by its SHA-256, never
    // the token itself) until it expires, for at most a minute, so a key withdrawn from the JWKS stops
    // working within that minute.
    private static readonly TimeSpan ValidatedTtl = TimeSpan.FromMinutes(1);
    private const int ValidatedCapacity = 10_000;
    private readonly ConcurrentDictionary<(string Issuer, string Audience, string TokenHash), Validated> _validated = new();

    private sealed record Validated(Principal Principal, DateTimeOffset Until);

    // /mcp accepts tokens of mcp.oidc.
    public bool Enabled => config.Current.Mcp.Oidc is not null;

    // The LLM routes accept tokens of the auth.oidc issuers.
    public bool ApiEnabled => config.Current.Auth.Oidc.Count > 0;

    public Task<Principal?> ValidateAsync(string token, CancellationToken cancellationToken)
        => config.Current.Mcp.Oidc is { } oidc ? ValidateAsync(token, oidc, cancellationToken) : Task.FromResult<Principal?>(null);

    // A token for the LLM routes: its (not yet trusted) `iss` picks the auth.oidc entry that validates it.
    public Task<Principal?> ValidateApiTokenAsync(string token, CancellationToken cancellationToken)
    {
        var issuers = config.Current.Auth.Oidc;
        if (issuers.Count == 0 || Read(token) is not { } jwt)
        {
            return Task.FromResult<Principal?>(null);
        }
        var issuer = jwt.TryGetPayloadValue<string>("iss", out var iss) ? iss : null;
        foreach (var oidc in issuers)
        {
            if (string.Equals(oidc.Issuer, issuer, StringComparison.Ordinal))
            {
                return ValidateAsync(token, oidc, cancellationToken);
            }
        }
        Rejected(logger, "unknown issuer");
        return Task.FromResult<Principal?>(null);
    }

    // Null when the token is not valid for any reason; the reason is logged, never returned to the caller.
    // Throws OidcUnavailableException when the key set cannot be fetched (infrastructure, not a bad token).
    public async Task<Principal?> ValidateAsync(string token, OidcConfig oidc, CancellationToken cancellationToken)
    {
        var cacheKey = (oidc.Issuer, oidc.Audience, ApiKeyHasher.HashHex(token));
        var now = time.GetUtcNow();
        if (_validated.TryGetValue(cacheKey, out var known))
        {
            if (now < known.Until)
            {
                return known.Principal.Clone();
            }
            _validated.TryRemove(cacheKey, out _);
        }
        if (Read(token) is not { } jwt)
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
        var principal = ToPrincipal(result.ClaimsIdentity, oidc);
        Remember(cacheKey, principal, jwt.ValidTo, oidc, now);
        return principal;
    }

    private void Remember((string, string, string) key, Principal principal, DateTime expires, OidcConfig oidc, DateTimeOffset now)
    {
        var until = new DateTimeOffset(DateTime.SpecifyKind(expires, DateTimeKind.Utc)).AddSeconds(oidc.ClockSkewSeconds);
        if (until > now + ValidatedTtl)
        {
            until = now + ValidatedTtl;
        }
        if (_validated.Count >= ValidatedCapacity)
        {
            _validated.Clear();
        }
        _validated[key] = new Validated(principal.Clone(), until);
    }

    private JsonWebToken? Read(string token)
    {
        if (token.Length is 0 or > 16 * 1024)
        {
            return null;
        }
        try
        {
            return _handler.ReadJsonWebToken(token);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    private bool LifetimeValid(DateTime? notBefore, DateTime? expires, TimeSpan skew)
    {
        var now = time.GetUtcNow().UtcDateTime;
        return expires is { } exp && now <= exp.ToUniversalTime() + skew && (notBefore is not { } nbf || now >= nbf.ToUniversalTime() - skew);
    }

    internal static Principal ToPrincipal(ClaimsIdentity identity, OidcConfig oidc)
    {
        var user = Claim(identity, oidc.UserClaim) ?? Claim(identity, "sub") ?? "";
        var principal = new Principal
        {
            KeyName = oidc.Name.Length > 0 ? $"oidc:{oidc.Name}:{user}" : "oidc:" + user,
            User = user,
            Team = Claim(identity, oidc.TeamClaim) ?? TeamFromGroups(identity, oidc) ?? oidc.Defaults.Team ?? "",
            Project = Claim(identity, oidc.ProjectClaim) ?? oidc.Defaults.Project ?? "",
            Environment = Claim(identity, oidc.EnvironmentClaim) ?? oidc.Defaults.Environment ?? "",
        };
        foreach (var role in Values(identity, oidc.RolesClaim))
        {
            principal.Roles.Add(role);
        }
        principal.AllowedModels.AddRange(oidc.Models);
        return principal;
    }

    private static string? Claim(ClaimsIdentity identity, string type)
        => identity.FindFirst(type)?.Value is { Length: > 0 } value ? value : null;

    // A JSON array claim arrives as one claim per element; a space-separated string is split.
    private static IEnumerable<string> Values(ClaimsIdentity identity, string type)
        => identity.FindAll(type).SelectMany(c => c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static string? TeamFromGroups(ClaimsIdentity identity, OidcConfig oidc)
    {
        if (oidc.Teams.Count == 0)
        {
            return null;
        }
        var groups = identity.FindAll(oidc.GroupsClaim).Select(c => c.Value).ToHashSet(StringComparer.Ordinal);
        foreach (var (group, team) in oidc.Teams)
        {
            if (groups.Contains(group))
            {
                return team;
            }
        }
        return null;
    }

    private async Task<IReadOnlyList<SecurityKey>> KeysAsync(OidcConfig oidc, string? kid, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (Usable(oidc, kid, now) is { } cached)
        {
            return cached.Keys;
        }
        await _fetch.WaitAsync(cancellationToken);
        try
        {
            if (Usable(oidc, kid, now) is { } fresh)
            {
                return fresh.Keys;
            }
            // An unknown kid re-fetches once, but not more than once a minute (a flood of bogus kids must not
            // become a flood of requests to the identity provider); a kid still unknown then is a 401.
            if (_keys.TryGetValue(oidc.JwksUrl, out var recent) && now - recent.FetchedAt < MinimumRefetchInterval)
            {
                return recent.Keys;
            }
            using var http = httpFactory.CreateClient(HttpClientName);
            using var response = await http.GetAsync(oidc.JwksUrl, cancellationToken);
            response.EnsureSuccessStatusCode();
            var json = await response.Content.ReadAsStringAsync(cancellationToken);
            var set = new JsonWebKeySet(json) { SkipUnresolvedJsonWebKeys = true };
            var keys = set.GetSigningKeys().ToArray();
            _keys[oidc.JwksUrl] = new KeyCache(keys, now);
            return keys;
        }
        finally
        {
            _fetch.Release();
        }
    }

    private KeyCache? Usable(OidcConfig oidc, string? kid, DateTimeOffset now)
        => _keys.TryGetValue(oidc.JwksUrl, out var cache)
            && now - cache.FetchedAt < TimeSpan.FromSeconds(oidc.JwksCacheSeconds)
            && (string.IsNullOrEmpty(kid) || cache.Keys.Any(k => k.KeyId == kid))
            ? cache
            : null;

    [LoggerMessage(40, LogLevel.Information, "OIDC token rejected: {Reason}")]
    private static partial void Rejected(ILogger logger, string reason);

    [LoggerMessage(41, LogLevel.Error, "OIDC key set could not be fetched")]
    private static partial void JwksUnavailable(ILogger logger, Exception exception);
}

// The identity provider could not be reached: infrastructure failure (503), not a bad credential (401).
public sealed class OidcUnavailableException(string message, Exception inner) : Exception(message, inner);
