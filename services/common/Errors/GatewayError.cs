namespace Gateway.Common.Errors;

// Every refusal or failure the gateway reports, as one typed reason. Each surface maps it to its own
// shape (OpenAI, Anthropic, gRPC status) in exactly one place: ErrorMapping.
public enum ErrorKind
{
    InvalidRequest,
    Authentication,
    PermissionDenied,
    NotFound,
    RequestTooLarge,
    RateLimited,
    BudgetExceeded,
    ContextLengthExceeded,
    ContentPolicy,
    GuardBlocked,
    UpstreamAuthentication,
    UpstreamRateLimited,
    UpstreamError,
    UpstreamTimeout,
    Unavailable,
    Internal,
    // Headers over server.limits (431); after Internal so existing kinds keep their numbers.
    RequestHeadersTooLarge,
    // The request contradicts the current state (a name already taken, an entry owned by the configuration file).
    Conflict,
}

public sealed class GatewayException(ErrorKind kind, string message, string? param = null, string? code = null)
    : Exception(message)
{
    public ErrorKind Kind { get; } = kind;

    // The request field at fault (`messages[0].content`), when there is one.
    public string? Param { get; } = param;

    // A machine-readable code (`invalid_api_key`, `context_length_exceeded`, ...); defaults per kind.
    public string Code { get; } = code ?? ErrorMapping.DefaultCode(kind);

    public int? RetryAfterSeconds { get; init; }

    // Extra response headers for the client (x-ratelimit-* on a rate-limit refusal); HTTP surfaces only.
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    // The provider's HTTP status, when the error came from a provider.
    public int? UpstreamStatus { get; init; }

    // Whether trying another deployment or model could succeed.
    public bool IsRetryable => Kind is ErrorKind.UpstreamRateLimited or ErrorKind.UpstreamError
        or ErrorKind.UpstreamTimeout or ErrorKind.Unavailable or ErrorKind.UpstreamAuthentication;

    public static GatewayException BadRequest(string message, string? param = null, string? code = null)
        => new(ErrorKind.InvalidRequest, message, param, code);
}

// Thrown on purpose by a streaming endpoint after it has sent a failed stream's error event. Ending the
// request with an exception makes Kestrel send everything already written and then close the connection
// without completing the response (HTTP/1.1: no final chunk; HTTP/2: stream reset), so the client reads
// the error event and still sees an incomplete answer. HttpContext.Abort() would instead discard output
// not yet on the socket, and with it, most of the time, the error event itself.
public sealed class ResponseAbortedException(string requestId, Exception cause)
    : Exception($"Request {requestId}: the stream failed after it started; the response was cut off on purpose.", cause);
