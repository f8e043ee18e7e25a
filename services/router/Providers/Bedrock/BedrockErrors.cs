using System.Text.Json;
using Gateway.Common.Errors;
using static Gateway.Router.Providers.JsonRead;

namespace Gateway.Router.Providers.Bedrock;

// Bedrock errors: the exception name travels in the x-amzn-ErrorType header (HTTP errors) or the
// :exception-type header (stream events), the text in a {"message"} body. The name decides the class, so
// a throttled stream fails over just like a throttled request.
public static class BedrockErrors
{
    public static GatewayException Read(string provider, int status, string? errorType, string body, int? retryAfterSeconds)
    {
        string? message = null;
        try
        {
            using var document = JsonDocument.Parse(body);
            message = OptString(document.RootElement, "message") ?? OptString(document.RootElement, "Message");
            errorType ??= OptString(document.RootElement, "__type");
        }
        catch (JsonException)
        {
            // Not JSON (a proxy's HTML page, say): classify by status and type alone.
        }
        var type = Normalize(errorType) ?? (status == 424 ? "ModelErrorException" : null);
        status = StatusFor(type) ?? status;
        if (type == "ValidationException" && message is not null && message.Contains("too long", StringComparison.OrdinalIgnoreCase))
        {
            return new GatewayException(ErrorKind.ContextLengthExceeded, $"The request exceeds the model's context window: {message}", "messages") { UpstreamStatus = status };
        }
        if (type == "ModelErrorException")
        {
            // The model itself failed (Bedrock answers 424): another deployment may well succeed.
            return new GatewayException(ErrorKind.UpstreamError, $"Provider '{provider}' failed: the model returned an error.") { UpstreamStatus = status };
        }
        return ProviderHttp.Classify(provider, status, message, type, null, retryAfterSeconds);
    }

    // "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/", "com.amazon.coral#Throttling"
    // and the stream's "throttlingException" all name one exception.
    internal static string? Normalize(string? errorType)
    {
        if (string.IsNullOrEmpty(errorType))
        {
            return null;
        }
        var name = errorType;
        if (name.IndexOf(':') is > 0 and var colon)
        {
            name = name[..colon];
        }
        if (name.LastIndexOf('#') is >= 0 and var hash)
        {
            name = name[(hash + 1)..];
        }
        return name.Length == 0 ? null : char.ToUpperInvariant(name[0]) + name[1..];
    }

    private static int? StatusFor(string? type) => type switch
    {
        "ThrottlingException" or "ModelNotReadyException" or "ServiceQuotaExceededException" or "TooManyRequestsException" => 429,
        "ValidationException" => 400,
        "AccessDeniedException" or "UnrecognizedClientException" or "InvalidSignatureException" or "ExpiredTokenException"
            or "IncompleteSignatureException" or "MissingAuthenticationTokenException" => 403,
        "ResourceNotFoundException" => 404,
        "ModelTimeoutException" => 408,
        "ServiceUnavailableException" => 503,
        "InternalServerException" or "ModelStreamErrorException" => 500,
        "ModelErrorException" => 424,
        _ => null,
    };
}
