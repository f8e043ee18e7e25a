using System.Text.Json;

namespace Gateway.Common.Security;

// The fields of a Google service account key file the gateway needs to obtain access tokens. Parsed once
// at validation (so a broken key stops the start) and again by the provider; the private key never
// appears in an error message or in ToString.
public sealed record GoogleServiceAccount(string ClientEmail, string PrivateKeyId, string PrivateKeyPem, Uri TokenUri)
{
    public const string DefaultTokenUri = "https://oauth2.googleapis.com/token";

    // The key JSON from `json`, or the error that says what is wrong with it (never quoting it).
    public static GoogleServiceAccount Parse(string json, out string? error)
    {
        error = null;
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = "is not a JSON object; use the key file the Google Cloud console downloads for a service account";
                return null!;
            }
            var type = Text(root, "type");
            if (type is not null && type != "service_account")
            {
                error = $"has type '{type}'; the gateway needs a service_account key (not user or external_account credentials)";
                return null!;
            }
            var email = Text(root, "client_email");
            var key = Text(root, "private_key");
            if (string.IsNullOrEmpty(email) || string.IsNullOrEmpty(key))
            {
                error = "lacks client_email or private_key; use the key file the Google Cloud console downloads for a service account";
                return null!;
            }
            if (!key.Contains("-----BEGIN PRIVATE KEY-----", StringComparison.Ordinal))
            {
                error = "has a private_key that is not a PEM PKCS#8 RSA key (-----BEGIN PRIVATE KEY-----)";
                return null!;
            }
            var tokenUri = Text(root, "token_uri") ?? DefaultTokenUri;
            if (!Uri.TryCreate(tokenUri, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
            {
                error = "has a token_uri that is not an http(s) URL";
                return null!;
            }
            return new GoogleServiceAccount(email, Text(root, "private_key_id") ?? "", key, uri);
        }
        catch (JsonException)
        {
            error = "is not valid JSON; use the key file the Google Cloud console downloads for a service account";
            return null!;
        }
    }

    private static string? Text(JsonElement root, string name)
        => root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public override string ToString() => $"GoogleServiceAccount {{ ClientEmail = {ClientEmail}, PrivateKeyId = {PrivateKeyId}, TokenUri = {TokenUri} }}";
}
