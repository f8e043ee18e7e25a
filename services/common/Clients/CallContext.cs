using System.Diagnostics;
using Gateway.Contracts.Common.V1;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Gateway.Common.Clients;

// What travels with every call between services: the request id (the trace id every response carries), the
// principal once the key is resolved, and the deadline — what is left of the request's time budget. The edge
// starts it, each service's server interceptor restores it from the incoming call, the client interceptor puts
// it on the outgoing one. W3C trace context (traceparent) travels alongside.
public sealed record CallContext(string RequestId, Principal? Principal, DateTime Deadline)
{
    public const string RequestIdHeader = "x-request-id";
    public const string PrincipalHeader = "x-gateway-principal-bin";

    private static readonly AsyncLocal<CallContext?> Ambient = new();

    public static CallContext? Current => Ambient.Value;

    // Sets the context for the rest of the calling async flow.
    public static void Enter(CallContext context) => Ambient.Value = context;

    // A request's whole time budget, counted from now.
    public static DateTime DefaultDeadline(TimeProvider time, Configuration.ConfigMonitor config)
        => time.GetUtcNow().UtcDateTime.AddSeconds(config.Current.Services.RequestTimeoutSeconds);

    // Names the request (and its principal, once known) for the calls that follow in this async flow,
    // keeping the deadline a caller has already set.
    public static void Enter(string requestId, Principal? principal, TimeProvider time, Configuration.ConfigMonitor config)
        => Enter(new CallContext(requestId, principal, Current?.Deadline ?? DefaultDeadline(time, config)));
}

// Outgoing calls: the ambient context as metadata, and its deadline unless the call set one.
public sealed class CallContextClientInterceptor(TimeProvider time, Configuration.ConfigMonitor config) : Interceptor
{
    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
        => continuation(request, WithCallContext(context));

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncServerStreamingCallContinuation<TRequest, TResponse> continuation)
        => continuation(request, WithCallContext(context));

    private ClientInterceptorContext<TRequest, TResponse> WithCallContext<TRequest, TResponse>(ClientInterceptorContext<TRequest, TResponse> context)
        where TRequest : class where TResponse : class
    {
        var options = context.Options;
        var ambient = CallContext.Current;
        var headers = options.Headers ?? [];
        if (ambient is { RequestId.Length: > 0 })
        {
            headers.Add(CallContext.RequestIdHeader, ambient.RequestId);
            if (ambient.Principal is { } principal)
            {
                headers.Add(CallContext.PrincipalHeader, principal.ToByteArray());
            }
        }
        // W3C trace context, whatever the transport below (SocketsHttpHandler would add it too, unless present).
        if (Activity.Current is { } activity && headers.Get("traceparent") is null)
        {
            DistributedContextPropagator.Current.Inject(activity, headers, static (carrier, name, value) =>
            {
                if (carrier is Metadata metadata && value is not null)
                {
                    metadata.Add(name, value);
                }
            });
        }
        options = options.WithHeaders(headers);
        if (options.Deadline is null)
        {
            options = options.WithDeadline(ambient?.Deadline ?? CallContext.DefaultDeadline(time, config));
        }
        return new ClientInterceptorContext<TRequest, TResponse>(context.Method, context.Host, options);
    }
}

// Incoming calls: restores the caller's context (request id, principal, the deadline grpc-timeout carried;
// a caller that sent none gets services.request_timeout_seconds from now).
public sealed class CallContextServerInterceptor(TimeProvider time, Configuration.ConfigMonitor config) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        using var logScope = Restore(context);
        return await continuation(request, context);
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        using var logScope = Restore(context);
        await continuation(request, responseStream, context);
    }

    // Also names the request on every log line written while serving the call, as the edge does.
    private IDisposable? Restore(ServerCallContext context)
    {
        var requestId = context.RequestHeaders.GetValue(CallContext.RequestIdHeader);
        Principal? principal = null;
        if (context.RequestHeaders.GetValueBytes(CallContext.PrincipalHeader) is { } bytes)
        {
            try
            {
                principal = Principal.Parser.ParseFrom(bytes);
            }
            catch (InvalidProtocolBufferException)
            {
                // A caller that cannot encode a principal gets none: services authorise on the request itself.
            }
        }
        var deadline = context.Deadline == DateTime.MaxValue ? CallContext.DefaultDeadline(time, config) : context.Deadline;
        CallContext.Enter(new CallContext(requestId ?? "", principal, deadline));
        return requestId is { Length: > 0 } ? Serilog.Context.LogContext.PushProperty("request_id", requestId) : null;
    }
}
