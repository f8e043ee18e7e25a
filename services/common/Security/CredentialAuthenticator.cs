using Gateway.Common.Errors;
using Gateway.Contracts.Common.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Gateway.Common.Security;

// The credential of an LLM request: a gateway key, or a bearer token (JWT) of an auth.oidc identity provider.
// Either way the result is the same principal, so budgets, guard policies and traces treat both alike.
// A credential that is wrong is 401; an identity provider that cannot be reached is 503 (the token might be
// valid), never 401.
public sealed class CredentialAuthenticator(KeyAuthenticator keys, OidcTokenValidator oidc)
{
    public async ValueTask<Principal> AuthenticateAsync(string? credential, CancellationToken cancellationToken)
    {
        if (keys.Authenticate(credential) is { } principal)
        {
            return principal;
        }
        // Gateway keys never contain '.', a JWT is exactly three dot-separated parts.
        if (credential is not null && oidc.ApiEnabled && credential.Count(c => c == '.') == 2)
        {
            try
            {
                if (await oidc.ValidateApiTokenAsync(credential, cancellationToken) is { } tokenPrincipal)
                {
                    return tokenPrincipal;
                }
            }
            catch (OidcUnavailableException)
            {
                throw new GatewayException(ErrorKind.Unavailable, "The identity provider could not be reached to check your token; try again shortly.", code: "identity_provider_unavailable");
            }
            throw new GatewayException(ErrorKind.Authentication, "Invalid or expired identity token.", code: "invalid_token");
        }
        throw new GatewayException(ErrorKind.Authentication, string.IsNullOrEmpty(credential)
            ? "Missing API key. Send your gateway key or identity token as 'Authorization: Bearer <key>' (or 'x-api-key: <key>' on /v1/messages)."
            : "Incorrect API key provided.");
    }
}

public static class CredentialRegistration
{
    // Gateway keys and identity-provider tokens; every service that authenticates callers registers this.
    public static IServiceCollection AddCredentialAuthentication(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<KeyAuthenticator>();
        services.AddHttpClient(OidcTokenValidator.HttpClientName, client => client.Timeout = TimeSpan.FromSeconds(10));
        services.TryAddSingleton<OidcTokenValidator>();
        services.TryAddSingleton<CredentialAuthenticator>();
        return services;
    }
}
