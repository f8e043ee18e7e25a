using Gateway.Common.Configuration;
using Gateway.Common.Errors;

namespace Gateway.Router.Routing;

// Why one attempt on a deployment failed, as the routing policy's triggers name it.
public enum FailureClass
{
    None,
    ClientError,
    RateLimit,
    ServerError,
    Connection,
    Timeout,
    TtftTimeout,
    IdleTimeout,
    ContextLength,
    ContentPolicy,
    Credentials,
}

public static class Failures
{
    public const string TtftTimeoutCode = "ttft_timeout";
    public const string IdleTimeoutCode = "idle_timeout";
    public const string TimeoutCode = "timeout";

    public static FailureClass Classify(GatewayException error) => error.Kind switch
    {
        ErrorKind.UpstreamRateLimited => FailureClass.RateLimit,
        ErrorKind.UpstreamTimeout => error.Code switch
        {
            TtftTimeoutCode => FailureClass.TtftTimeout,
            IdleTimeoutCode => FailureClass.IdleTimeout,
            _ => FailureClass.Timeout,
        },
        // No upstream status: the connection failed, broke off, or carried something that is not an answer.
        ErrorKind.UpstreamError => error.UpstreamStatus is null ? FailureClass.Connection : FailureClass.ServerError,
        ErrorKind.Unavailable => FailureClass.Connection,
        // The provider refused the gateway's own credentials: a deployment fault, never the client's.
        ErrorKind.UpstreamAuthentication => FailureClass.Credentials,
        ErrorKind.ContextLengthExceeded => FailureClass.ContextLength,
        ErrorKind.ContentPolicy => FailureClass.ContentPolicy,
        _ => FailureClass.ClientError,
    };

    // The name the trace records for an attempt's error class.
    public static string Name(FailureClass failure) => failure switch
    {
        FailureClass.None => "",
        FailureClass.ClientError => "client_error",
        FailureClass.RateLimit => "rate_limit",
        FailureClass.ServerError => "server_error",
        FailureClass.Connection => "connection",
        FailureClass.Timeout => "timeout",
        FailureClass.TtftTimeout => "ttft_timeout",
        FailureClass.IdleTimeout => "idle_timeout",
        FailureClass.ContextLength => "context_length",
        FailureClass.ContentPolicy => "content_policy",
        FailureClass.Credentials => "upstream_credentials",
        _ => "unknown",
    };

    // Whether this failure may move the request on to another deployment or model under the policy.
    public static bool Triggers(TriggersConfig triggers, FailureClass failure) => failure switch
    {
        FailureClass.RateLimit => triggers.RateLimit,
        FailureClass.ServerError => triggers.ServerError,
        FailureClass.Connection => triggers.Connection,
        FailureClass.Timeout => triggers.Timeout,
        // A time-to-first-token limit exists only because the policy set one: it always fails over.
        FailureClass.TtftTimeout or FailureClass.IdleTimeout => true,
        FailureClass.ContextLength => triggers.ContextLength,
        FailureClass.ContentPolicy => triggers.ContentPolicy,
        FailureClass.Credentials => true,
        _ => false,
    };

    // Whether the failure says something about the deployment's health (counts in error rate and breaker).
    public static bool IsDeploymentFault(FailureClass failure) => failure is FailureClass.RateLimit or FailureClass.ServerError
        or FailureClass.Connection or FailureClass.Timeout or FailureClass.TtftTimeout or FailureClass.IdleTimeout or FailureClass.Credentials;
}
