using System.Text.Json;
using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Contracts.Inference.V1;
using Gateway.Edge.Http;
using Gateway.Router.Providers;
using Gateway.Router.Providers.Anthropic;

namespace Gateway.Edge.Anthropic;

// The Anthropic Messages API (Claude Code, Anthropic SDKs), a translator onto the Inference API: any
// configured model can serve it, whatever provider the router picks.
public static class AnthropicEndpoints
{
    public static IEndpointRouteBuilder MapAnthropic(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/v1/messages", MessagesAsync);
        return endpoints;
    }

    private static async Task MessagesAsync(HttpContext context, IInferenceService inference, ConfigMonitor config)
    {
        var requestId = GatewayHeaders.AssignRequestId(context);
        // Anthropic SDKs report this header as the request id of a call (and of its errors).
        context.Response.Headers["request-id"] = requestId;
        var abort = context.RequestAborted;
        try
        {
            // Anthropic refuses a request without a version, and so does the gateway: the version fixes the
            // wire format the client expects.
            if (string.IsNullOrWhiteSpace(context.Request.Headers["anthropic-version"]))
            {
                throw GatewayException.BadRequest("anthropic-version: header is required", code: "missing_anthropic_version");
            }
            ChatRequest request;
            bool stream;
            using (var body = await RequestBody.ReadJsonAsync(context, config.Current))
            {
                request = AnthropicCodec.ReadRequest(body.RootElement, out stream);
            }
            request.RequestId = requestId;
            request.Api = Api.Messages;
            var apiKey = ApiKey(context.Request);
            if (!stream)
            {
                var response = await inference.ChatAsync(request, apiKey, abort);
                GatewayHeaders.Served(context.Response, response.Served);
                context.Response.ContentType = "application/json";
                await using var writer = new Utf8JsonWriter(context.Response.BodyWriter, ProviderHttp.WriterOptions);
                AnthropicCodec.WriteResponse(writer, response, AnthropicCodec.MessageId(response.Id, requestId));
                await writer.FlushAsync(abort);
                return;
            }
            // message_delta always carries usage on this surface.
            request.IncludeUsage = true;
            AnthropicStreamEncoder? encoder = null;
            var model = request.Model;
            await ChatStreaming.WriteAsync(context, inference.ChatStreamAsync(request, apiKey, abort), ErrorShape.Anthropic,
                (sse, chunk) => (encoder ??= new AnthropicStreamEncoder(AnthropicCodec.MessageId(chunk.Id, requestId), model)).Write(chunk, sse.Write),
                sse => encoder?.Complete(sse.Write),
                abort);
        }
        catch (GatewayException e) when (!context.Response.HasStarted)
        {
            await ErrorWriter.WriteAsync(context, e, ErrorShape.Anthropic);
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            // The client went away; nothing left to tell it.
        }
    }

    // Anthropic clients send the key in x-api-key; Claude Code with a gateway token sends a Bearer header.
    private static string? ApiKey(HttpRequest request)
    {
        var key = request.Headers["x-api-key"].ToString();
        return key.Length > 0 ? key.Trim() : GatewayHeaders.BearerKey(request);
    }
}
