using System.Runtime.CompilerServices;
using System.Text.Json;
using Gateway.Common;
using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Common.Security;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;
using Gateway.Edge.Http;
using Gateway.Router.Providers;

namespace Gateway.Edge.OpenAi.Responses;

// OpenAI's Responses API, translated onto the same Inference pipeline as chat completions (routing,
// budgets, guard and traces apply unchanged; traces say api=responses). Responses are stored per principal
// for `previous_response_id` and GET /v1/responses/{id}.
public static class ResponsesEndpoints
{
    public static IEndpointRouteBuilder MapResponses(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/v1/responses", CreateAsync);
        endpoints.MapGet("/v1/responses/{id}", GetAsync);
        endpoints.MapDelete("/v1/responses/{id}", DeleteAsync);
        return endpoints;
    }

    private static async Task CreateAsync(HttpContext context, IInferenceService inference, ConfigMonitor config, CredentialAuthenticator credentials, ResponseStore store, TimeProvider time, ILogger<ResponseStore> logger)
    {
        var requestId = GatewayHeaders.AssignRequestId(context);
        var abort = context.RequestAborted;
        try
        {
            ResponsesRequest request;
            using (var body = await RequestBody.ReadJsonAsync(context, config.Current))
            {
                request = ResponsesRequest.Read(body.RootElement);
            }
            var apiKey = GatewayHeaders.BearerKey(context.Request);
            // The store is scoped to the caller, so the caller is known before the pipeline sees the request.
            var principal = await credentials.AuthenticateAsync(apiKey, abort);
            var chat = request.Chat;
            chat.RequestId = requestId;
            if (request.Instructions is { Length: > 0 } instructions)
            {
                chat.Messages.Add(new Message { Role = Role.System, Content = { new ContentPart { Text = instructions } } });
            }
            IReadOnlyList<Message> history = [];
            if (request.PreviousResponseId is { } previousId)
            {
                var previous = await store.FindAsync(Owner(principal), previousId, abort) ?? throw NotFound(previousId, "previous_response_id");
                history = previous.Conversation;
                chat.Messages.AddRange(history);
            }
            chat.Messages.AddRange(request.Input);
            var response = new ResponseObject(request, "resp_" + Ids.NewId(), time.GetUtcNow().ToUnixTimeSeconds());
            // The answer has been paid for: a store that fails costs the client chaining on it, not the answer.
            async Task SaveAsync()
            {
                if (!request.Store)
                {
                    return;
                }
                try
                {
                    await store.SaveAsync(Owner(principal), response.Id, response.ToJson(), [.. history, .. request.Input, response.AssistantMessage()], CancellationToken.None);
                }
                catch (System.Data.Common.DbException e)
                {
                    EdgeLog.ResponseNotStored(logger, e, response.Id);
                }
            }

            if (!request.Stream)
            {
                var result = await inference.ChatAsync(chat, apiKey, abort);
                response = ResponseObject.FromChat(request, response.Id, response.CreatedAt, result);
                await SaveAsync();
                GatewayHeaders.Served(context.Response, result.Served);
                context.Response.ContentType = "application/json";
                await using var writer = new Utf8JsonWriter(context.Response.BodyWriter, ProviderHttp.WriterOptions);
                response.Write(writer, requestId);
                await writer.FlushAsync(abort);
                return;
            }
            // Usage is always requested: response.completed carries it.
            chat.IncludeUsage = true;
            var events = new ResponseEventWriter(response, requestId);
            var chunks = ThenAsync(inference.ChatStreamAsync(chat, apiKey, abort), async () =>
            {
                // Sealed and stored before response.completed goes out, so a client may chain on it at once.
                events.Seal();
                await SaveAsync();
            }, abort);
            await ChatStreaming.WriteAsync(context, chunks, ErrorShape.OpenAi, events.Write, events.Complete, abort, events.Fail);
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

    private static async Task GetAsync(HttpContext context, string id, CredentialAuthenticator credentials, ResponseStore store)
    {
        GatewayHeaders.AssignRequestId(context);
        try
        {
            var principal = await credentials.AuthenticateAsync(GatewayHeaders.BearerKey(context.Request), context.RequestAborted);
            var stored = await store.FindAsync(Owner(principal), id, context.RequestAborted) ?? throw NotFound(id, null);
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(stored.ResponseJson, context.RequestAborted);
        }
        catch (GatewayException e) when (!context.Response.HasStarted)
        {
            await ErrorWriter.WriteAsync(context, e, ErrorShape.OpenAi);
        }
    }

    private static async Task DeleteAsync(HttpContext context, string id, CredentialAuthenticator credentials, ResponseStore store)
    {
        GatewayHeaders.AssignRequestId(context);
        try
        {
            var principal = await credentials.AuthenticateAsync(GatewayHeaders.BearerKey(context.Request), context.RequestAborted);
            if (!await store.DeleteAsync(Owner(principal), id, context.RequestAborted))
            {
                throw NotFound(id, null);
            }
            context.Response.ContentType = "application/json";
            await using var writer = new Utf8JsonWriter(context.Response.BodyWriter, ProviderHttp.WriterOptions);
            writer.WriteStartObject();
            writer.WriteString("id", id);
            writer.WriteString("object", "response.deleted");
            writer.WriteBoolean("deleted", true);
            writer.WriteEndObject();
            await writer.FlushAsync(context.RequestAborted);
        }
        catch (GatewayException e) when (!context.Response.HasStarted)
        {
            await ErrorWriter.WriteAsync(context, e, ErrorShape.OpenAi);
        }
    }

    // Key names are unique, and token principals are named oidc:ISSUER-NAME:USER: one owner per caller.
    private static string Owner(Principal principal) => principal.KeyName;

    // Another principal's response is indistinguishable from one that never existed.
    private static GatewayException NotFound(string id, string? param)
        => new(ErrorKind.NotFound, $"No response found with id '{id}'.", param, "response_not_found");

    private static async IAsyncEnumerable<ChatChunk> ThenAsync(IAsyncEnumerable<ChatChunk> chunks, Func<Task> after, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var chunk in chunks.WithCancellation(cancellationToken))
        {
            yield return chunk;
        }
        await after();
    }
}
