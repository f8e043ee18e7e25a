using Gateway.Common.Configuration;
using Gateway.Common.Events;
using Gateway.Contracts.Traces.V1;
using Grpc.Core;

namespace Gateway.Traces;

public sealed class TracesMarker;

public static class TracesService
{
    public static IServiceCollection AddTraces(this IServiceCollection services, GatewayConfig config)
    {
        services.AddSingleton(sp => SqliteTraceStore.Open(config.Storage.Traces));
        services.AddEventHandler<TraceEventHandler, TraceEvent>();
        return services;
    }

    public static IEndpointRouteBuilder MapTraces(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<TracesGrpcService>();
        return endpoints;
    }
}

// Receives trace events from the bus (in-process, or Dapr in the mesh) and stores them.
public sealed class TraceEventHandler(SqliteTraceStore store) : IEventHandler<TraceEvent>
{
    public string Topic => Topics.Traces;

    public Task HandleAsync(TraceEvent message, CancellationToken cancellationToken) => store.WriteAsync(message, cancellationToken);
}

public sealed class TracesGrpcService(SqliteTraceStore store) : Contracts.Traces.V1.Traces.TracesBase
{
    public override async Task<RecordResponse> Record(TraceEvent request, ServerCallContext context)
    {
        await store.WriteAsync(request, context.CancellationToken);
        return new RecordResponse();
    }

    public override async Task<TraceEvent> Get(GetTraceRequest request, ServerCallContext context)
        => await store.GetAsync(request.RequestId, context.CancellationToken)
           ?? throw new RpcException(new Status(StatusCode.NotFound, $"No trace with request id '{request.RequestId}'."));

    public override async Task<QueryTracesResponse> Query(QueryTracesRequest request, ServerCallContext context)
    {
        var response = new QueryTracesResponse();
        response.Traces.AddRange(await store.RecentAsync(request.Limit is > 0 and <= 1000 ? request.Limit : 100, context.CancellationToken));
        return response;
    }
}
