using Grpc.Core;

namespace Gateway.Common.Errors;

public static class ErrorMapping
{
    public static int HttpStatus(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidRequest or ErrorKind.ContextLengthExceeded or ErrorKind.ContentPolicy or ErrorKind.GuardBlocked => 400,
        ErrorKind.Authentication => 401,
        ErrorKind.PermissionDenied => 403,
        ErrorKind.NotFound => 404,
        ErrorKind.Conflict => 409,
        ErrorKind.RequestTooLarge => 413,
        ErrorKind.RequestHeadersTooLarge => 431,
        ErrorKind.RateLimited or ErrorKind.BudgetExceeded or ErrorKind.UpstreamRateLimited => 429,
        // The provider rejected the gateway's own credentials: the client did nothing wrong.
        ErrorKind.UpstreamAuthentication or ErrorKind.UpstreamError => 502,
        ErrorKind.Unavailable => 503,
        ErrorKind.UpstreamTimeout => 504,
        _ => 500,
    };

    public static string DefaultCode(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidRequest => "invalid_request",
        ErrorKind.Authentication => "invalid_api_key",
        ErrorKind.PermissionDenied => "model_not_allowed",
        ErrorKind.NotFound => "model_not_found",
        ErrorKind.Conflict => "conflict",
        ErrorKind.RequestTooLarge => "request_too_large",
        ErrorKind.RequestHeadersTooLarge => "request_header_fields_too_large",
        ErrorKind.RateLimited => "rate_limit_exceeded",
        ErrorKind.BudgetExceeded => "budget_exceeded",
        ErrorKind.ContextLengthExceeded => "context_length_exceeded",
        ErrorKind.ContentPolicy => "content_policy_violation",
        ErrorKind.GuardBlocked => "guard_blocked",
        ErrorKind.UpstreamAuthentication => "upstream_authentication_failed",
        ErrorKind.UpstreamRateLimited => "upstream_rate_limited",
        ErrorKind.UpstreamError => "upstream_error",
        ErrorKind.UpstreamTimeout => "upstream_timeout",
        ErrorKind.Unavailable => "service_unavailable",
        _ => "internal_error",
    };

    // OpenAI's `error.type` values.
    public static string OpenAiType(ErrorKind kind) => kind switch
    {
        ErrorKind.Authentication => "authentication_error",
        ErrorKind.PermissionDenied => "permission_error",
        ErrorKind.NotFound => "invalid_request_error",
        ErrorKind.RateLimited or ErrorKind.UpstreamRateLimited or ErrorKind.BudgetExceeded => "rate_limit_error",
        ErrorKind.UpstreamAuthentication or ErrorKind.UpstreamError or ErrorKind.UpstreamTimeout or ErrorKind.Unavailable or ErrorKind.Internal => "server_error",
        _ => "invalid_request_error",
    };

    // Anthropic's `error.type` values.
    public static string AnthropicType(ErrorKind kind) => kind switch
    {
        ErrorKind.Authentication => "authentication_error",
        ErrorKind.PermissionDenied => "permission_error",
        ErrorKind.NotFound => "not_found_error",
        ErrorKind.RequestTooLarge or ErrorKind.RequestHeadersTooLarge => "request_too_large",
        ErrorKind.RateLimited or ErrorKind.UpstreamRateLimited or ErrorKind.BudgetExceeded => "rate_limit_error",
        ErrorKind.Unavailable => "overloaded_error",
        ErrorKind.UpstreamAuthentication or ErrorKind.UpstreamError or ErrorKind.UpstreamTimeout or ErrorKind.Internal => "api_error",
        _ => "invalid_request_error",
    };

    public static StatusCode GrpcStatus(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidRequest or ErrorKind.ContextLengthExceeded or ErrorKind.ContentPolicy or ErrorKind.GuardBlocked => StatusCode.InvalidArgument,
        ErrorKind.Authentication => StatusCode.Unauthenticated,
        ErrorKind.PermissionDenied => StatusCode.PermissionDenied,
        ErrorKind.NotFound => StatusCode.NotFound,
        ErrorKind.Conflict => StatusCode.AlreadyExists,
        ErrorKind.RequestTooLarge or ErrorKind.RequestHeadersTooLarge => StatusCode.ResourceExhausted,
        ErrorKind.RateLimited or ErrorKind.BudgetExceeded or ErrorKind.UpstreamRateLimited => StatusCode.ResourceExhausted,
        ErrorKind.UpstreamTimeout => StatusCode.DeadlineExceeded,
        ErrorKind.Unavailable => StatusCode.Unavailable,
        ErrorKind.UpstreamAuthentication or ErrorKind.UpstreamError => StatusCode.Unavailable,
        _ => StatusCode.Internal,
    };

    // Kinds whose message is safe to show the client; anything else gets a generic text and the request id.
    public static bool IsClientVisible(ErrorKind kind) => kind != ErrorKind.Internal;
}
