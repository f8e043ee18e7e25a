using Gateway.Common.Clients;
using Gateway.Common.Errors;
using Gateway.Contracts.Inference.V1;
using Gateway.Router.Pipeline;
using Grpc.Core;

namespace Gateway.Router.Inference;

// gateway.inference.v1.Inference over gRPC: the same pipeline as REST, with the key in `authorization`.
public sealed class InferenceGrpcService(IInferenceService pipeline) : Contracts.Inference.V1.Inference.InferenceBase
{
    public override async Task<ChatResponse> Chat(ChatRequest request, ServerCallContext context)
    {
        var requestId = Prepare(request, context);
        try
        {
            return await pipeline.ChatAsync(request, ApiKey(context), context.CancellationToken);
        }
        catch (GatewayException e)
        {
            throw GrpcErrors.ToRpcException(e, requestId);
        }
    }

    public override async Task ChatStream(ChatRequest request, IServerStreamWriter<ChatChunk> responseStream, ServerCallContext context)
    {
        var requestId = Prepare(request, context);
        try
        {
            await foreach (var chunk in pipeline.ChatStreamAsync(request, ApiKey(context), context.CancellationToken))
            {
                await responseStream.WriteAsync(chunk, context.CancellationToken);
            }
        }
        catch (GatewayException e)
        {
            throw GrpcErrors.ToRpcException(e, requestId);
        }
    }

    public override async Task<EmbedResponse> Embed(EmbedRequest request, ServerCallContext context)
    {
        if (request.RequestId.Length == 0)
        {
            request.RequestId = RequestIdFrom(context);
        }
        await context.WriteResponseHeadersAsync(new Metadata { { "x-request-id", request.RequestId } });
        try
        {
            return await pipeline.EmbedAsync(request, ApiKey(context), context.CancellationToken);
        }
        catch (GatewayException e)
        {
            throw GrpcErrors.ToRpcException(e, request.RequestId);
        }
    }

    public override async Task<ListModelsResponse> ListModels(ListModelsRequest request, ServerCallContext context)
    {
        try
        {
            return await pipeline.ListModelsAsync(ApiKey(context), context.CancellationToken);
        }
        catch (GatewayException e)
        {
            throw GrpcErrors.ToRpcException(e, "");
        }
    }

    private static string Prepare(ChatRequest request, ServerCallContext context)
    {
        if (request.Api == Api.Unspecified)
        {
            request.Api = Api.Grpc;
        }
        if (request.RequestId.Length == 0)
        {
            request.RequestId = RequestIdFrom(context);
        }
        context.ResponseTrailers.Add("x-request-id", request.RequestId);
        return request.RequestId;
    }

    private static string RequestIdFrom(ServerCallContext context)
    {
        var given = context.RequestHeaders.GetValue("x-request-id");
        return given is { Length: > 0 and <= 128 } && given.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')
            ? given
            : InferencePipeline.NewRequestId();
    }

    private static string? ApiKey(ServerCallContext context)
    {
        var header = context.RequestHeaders.GetValue("authorization");
        return header is not null && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : null;
    }
}
