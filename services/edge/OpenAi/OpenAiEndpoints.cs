using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Contracts.Inference.V1;
using Gateway.Edge.Http;
using Gateway.Router.Providers;
using Gateway.Router.Providers.OpenAI;
using System.Text.Json;

namespace Gateway.Edge.OpenAi;

// The OpenAI-compatible REST surface, a translator onto the Inference API.
public static class OpenAiEndpoints
{
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    public static IEndpointRouteBuilder MapOpenAi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/v1/chat/completions", ChatCompletionsAsync);
        endpoints.MapPost("/v1/embeddings", EmbeddingsAsync);
        endpoints.MapGet("/v1/models", ModelsAsync);
        return endpoints;
    }

    private static async Task ChatCompletionsAsync(HttpContext context, IInferenceService inference, ConfigMonitor config)
    {
        var requestId = GatewayHeaders.AssignRequestId(context);
        var abort = context.RequestAborted;
        try
        {
            ChatRequest request;
            bool stream;
            using (var body = await RequestBody.ReadJsonAsync(context, config.Current))
            {
                request = OpenAiChatCodec.ReadRequest(body.RootElement, out stream);
            }
            request.RequestId = requestId;
            request.Api = Api.Chat;
            var apiKey = GatewayHeaders.BearerKey(context.Request);
            if (!stream)
            {
                var response = await inference.ChatAsync(request, apiKey, abort);
                GatewayHeaders.Served(context.Response, response.Served);
                context.Response.ContentType = "application/json";
                await using var writer = new Utf8JsonWriter(context.Response.BodyWriter, ProviderHttp.WriterOptions);
                OpenAiChatCodec.WriteResponse(writer, response);
                await writer.FlushAsync(abort);
                return;
            }
            var includeUsage = request.IncludeUsage;
            await ChatStreaming.WriteAsync(context, inference.ChatStreamAsync(request, apiKey, abort), ErrorShape.OpenAi,
                (sse, chunk) => sse.Write(null, w => OpenAiChatCodec.WriteChunk(w, chunk, includeUsage)),
                sse => sse.WriteRaw(Done),
                abort);
        }
        catch (GatewayException e) when (!context.Response.HasStarted)
        {
            await ErrorWriter.WriteAsync(context, e, ErrorShape.OpenAi);
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            // The client went away; nothing left to tell it.
        }
    }

    private static async Task EmbeddingsAsync(HttpContext context, IInferenceService inference, ConfigMonitor config)
    {
        var requestId = GatewayHeaders.AssignRequestId(context);
        try
        {
            EmbedRequest request;
            string encodingFormat;
            using (var body = await RequestBody.ReadJsonAsync(context, config.Current))
            {
                request = OpenAiEmbeddingsCodec.ReadRequest(body.RootElement, out encodingFormat);
            }
            request.RequestId = requestId;
            var response = await inference.EmbedAsync(request, GatewayHeaders.BearerKey(context.Request), context.RequestAborted);
            GatewayHeaders.Served(context.Response, response.Served);
            context.Response.ContentType = "application/json";
            await using var writer = new Utf8JsonWriter(context.Response.BodyWriter, ProviderHttp.WriterOptions);
            OpenAiEmbeddingsCodec.WriteResponse(writer, response, encodingFormat);
            await writer.FlushAsync(context.RequestAborted);
        }
        catch (GatewayException e) when (!context.Response.HasStarted)
        {
            await ErrorWriter.WriteAsync(context, e, ErrorShape.OpenAi);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
        }
    }

    private static async Task ModelsAsync(HttpContext context, IInferenceService inference)
    {
        GatewayHeaders.AssignRequestId(context);
        try
        {
            var models = await inference.ListModelsAsync(GatewayHeaders.BearerKey(context.Request), context.RequestAborted);
            context.Response.ContentType = "application/json";
            await using var writer = new Utf8JsonWriter(context.Response.BodyWriter, ProviderHttp.WriterOptions);
            writer.WriteStartObject();
            writer.WriteString("object", "list");
            writer.WriteStartArray("data");
            foreach (var model in models.Models)
            {
                writer.WriteStartObject();
                writer.WriteString("id", model.Id);
                writer.WriteString("object", "model");
                writer.WriteNumber("created", model.Created);
                writer.WriteString("owned_by", model.OwnedBy);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
            await writer.FlushAsync(context.RequestAborted);
        }
        catch (GatewayException e) when (!context.Response.HasStarted)
        {
            await ErrorWriter.WriteAsync(context, e, ErrorShape.OpenAi);
        }
    }
}
