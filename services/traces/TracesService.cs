using Gateway.Common.Configuration;
using Gateway.Common.Events;
using Gateway.Contracts.Traces.V1;
using Gateway.Traces.Ingest;
using Gateway.Traces.Storage;
using Grpc.Core;

namespace Gateway.Traces;

public sealed class TracesMarker;

public static class TracesService
{
    public static IServiceCollection AddTraces(this IServiceCollection services, GatewayConfig config)
    {
        services.AddSingleton<ITraceStore>(sp => OpenStore(config, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new TraceIngestor(sp.GetRequiredService<ITraceStore>(), config.Traces,
            config.Traces.SpoolDirectoryFor(config.Storage),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<TraceIngestor>>()));
        services.AddHostedService(sp => sp.GetRequiredService<TraceIngestor>());
        services.AddEventHandler<TraceEventHandler, TraceEvent>();
        services.AddEventHandler<FeedbackEventHandler, Feedback>();
        services.AddEventHandler<McpAuditEventHandler, McpAuditEvent>();
        services.AddSingleton(sp => (IMcpAuditStore)sp.GetRequiredService<ITraceStore>());
        return services;
    }

    // storage.traces: sqlite://PATH (embedded) or clickhouse://user:pass@host:8123/db (production).
    public static ITraceStore OpenStore(GatewayConfig config, TimeProvider time)
        => config.Storage.Traces.StartsWith("clickhouse://", StringComparison.OrdinalIgnoreCase)
            ? ClickHouseTraceStore.Open(config.Storage.Traces, config.Traces.RetentionDays, time)
            : SqliteTraceStore.Open(config.Storage.Traces);

    public static IEndpointRouteBuilder MapTraces(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<TracesGrpcService>();
        return endpoints;
    }
}

// Receives trace events from the bus (in-process, or Dapr in the mesh) and hands them to the ingestor,
// which never makes the bus wait on the store. In-process it is called at publish time: the trace is in the
// ingestor's journal before the answer goes back to the client.
public sealed class TraceEventHandler(TraceIngestor ingestor) : IEventHandler<TraceEvent>, IInlineEventHandler
{
    public string Topic => Topics.Traces;

    public Task HandleAsync(TraceEvent message, CancellationToken cancellationToken)
    {
        ingestor.Accept(message);
        return Task.CompletedTask;
    }
}

// Feedback from the bus (POST /v1/feedback on the edge): stored next to the trace it scores.
public sealed class FeedbackEventHandler(ITraceStore store) : IEventHandler<Feedback>
{
    public string Topic => Topics.Feedback;

    public Task HandleAsync(Feedback message, CancellationToken cancellationToken) => store.WriteFeedbackAsync(message, cancellationToken);
}

// MCP audit rows from the bus take the traces' ingest path (memory, spool, retries) into the mcp_audit table.
public sealed class McpAuditEventHandler(TraceIngestor ingestor) : IEventHandler<McpAuditEvent>, IInlineEventHandler
{
    public string Topic => Topics.McpAudit;

    public Task HandleAsync(McpAuditEvent message, CancellationToken cancellationToken)
    {
        ingestor.Accept(McpAuditEnvelope.Wrap(message));
        return Task.CompletedTask;
    }
}

public sealed class TracesGrpcService(TraceIngestor ingestor, ITraceStore store) : Contracts.Traces.V1.Traces.TracesBase
{
    public override Task<RecordResponse> Record(TraceEvent request, ServerCallContext context)
    {
        if (request.RequestId.Length == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "request_id is required."));
        }
        ingestor.Accept(request);
        return Task.FromResult(new RecordResponse());
    }

    public override async Task<TraceEvent> Get(GetTraceRequest request, ServerCallContext context)
        => await store.GetAsync(request.RequestId, context.CancellationToken)
           ?? throw new RpcException(new Status(StatusCode.NotFound, $"No trace with request id '{request.RequestId}'."));

    public override async Task<QueryTracesResponse> Query(QueryTracesRequest request, ServerCallContext context)
    {
        TracePage page;
        try
        {
            page = await store.QueryAsync(new TraceFilter
            {
                From = request.From?.ToDateTimeOffset(),
                To = request.To?.ToDateTimeOffset(),
                Team = request.Team,
                Project = request.Project,
                User = request.User,
                Model = request.Model,
                Provider = request.Provider,
                Status = request.Status,
                ErrorClass = request.ErrorClass,
                PromptName = request.PromptName,
                PromptVersion = request.PromptVersion > 0 ? request.PromptVersion : null,
                PromptLabel = request.PromptLabel,
                Experiment = request.Experiment,
                ExperimentArm = request.ExperimentArm,
                Limit = request.Limit is > 0 ? request.Limit : 100,
                Cursor = request.PageToken,
            }, context.CancellationToken);
        }
        catch (FormatException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }
        var response = new QueryTracesResponse { NextPageToken = page.NextCursor ?? "" };
        response.Traces.AddRange(page.Traces);
        return response;
    }
}
