using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;

namespace Gateway.Common.Errors;

// GatewayException <-> gRPC status with google.rpc details (ErrorInfo, BadRequest, RetryInfo), so a typed
// reason survives the hop between services and reaches gRPC clients intact.
public static class GrpcErrors
{
    private const string Domain = "gateway";

    public static RpcException ToRpcException(GatewayException error, string requestId) => ToStatus(error, requestId).ToRpcException();

    public static Google.Rpc.Status ToStatus(GatewayException error, string requestId)
    {
        var visible = ErrorMapping.IsClientVisible(error.Kind);
        var message = visible ? error.Message : $"Internal error; request id {requestId}";
        var info = new ErrorInfo { Reason = error.Code, Domain = Domain };
        info.Metadata["kind"] = error.Kind.ToString();
        info.Metadata["request_id"] = requestId;
        if (error.UpstreamStatus is { } upstream)
        {
            info.Metadata["upstream_status"] = upstream.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var status = new Google.Rpc.Status
        {
            Code = (int)ErrorMapping.GrpcStatus(error.Kind),
            Message = message,
            Details = { Any.Pack(info) },
        };
        if (error.Param is { } param)
        {
            status.Details.Add(Any.Pack(new BadRequest
            {
                FieldViolations = { new BadRequest.Types.FieldViolation { Field = param, Description = message } },
            }));
        }
        if (error.RetryAfterSeconds is { } retry)
        {
            status.Details.Add(Any.Pack(new RetryInfo { RetryDelay = Duration.FromTimeSpan(TimeSpan.FromSeconds(retry)) }));
        }
        return status;
    }

    public static GatewayException FromRpcException(RpcException exception)
    {
        var status = exception.GetRpcStatus();
        var info = status?.GetDetail<ErrorInfo>();
        if (info is not null && info.Domain == Domain && info.Metadata.TryGetValue("kind", out var kindText)
            && System.Enum.TryParse<ErrorKind>(kindText, out var kind))
        {
            var param = status!.GetDetail<BadRequest>()?.FieldViolations.FirstOrDefault()?.Field;
            var retry = status.GetDetail<RetryInfo>()?.RetryDelay?.ToTimeSpan();
            return new GatewayException(kind, status.Message, param, info.Reason)
            {
                RetryAfterSeconds = retry is null ? null : (int)retry.Value.TotalSeconds,
            };
        }
        // A status without our details comes from the transport itself (service down, deadline).
        return exception.StatusCode switch
        {
            StatusCode.Unavailable => new GatewayException(ErrorKind.Unavailable, "A gateway service is unavailable; try again."),
            StatusCode.DeadlineExceeded => new GatewayException(ErrorKind.UpstreamTimeout, "A gateway service did not answer in time."),
            StatusCode.Cancelled => new GatewayException(ErrorKind.Unavailable, "The call was cancelled."),
            _ => new GatewayException(ErrorKind.Internal, "A gateway service failed."),
        };
    }
}
