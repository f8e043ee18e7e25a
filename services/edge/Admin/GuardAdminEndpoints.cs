using System.Text.Json;
using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Guard.V1;
using Gateway.Edge.Http;
using Gateway.Router.Providers;

namespace Gateway.Edge.Admin;

// POST /admin/v1/guard/scan: what a policy finds in a text, for policy authors. Request:
// {"text": "...", "policy": "strict"?, "output": false?, "team": "..."?}. Response: the policy, the verdict
// action, findings (type, count, action), spans (type, start, length, action: offsets in UTF-16 units) and
// the text as the policy would send it on. Detected values are never echoed on their own.
public static class GuardAdminEndpoints
{
    public static IEndpointRouteBuilder MapGuardAdmin(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/admin/v1/guard/scan", ScanAsync);
        return endpoints;
    }

    private static async Task ScanAsync(HttpContext context, IGuardService guard, ConfigMonitor config)
    {
        GatewayHeaders.AssignRequestId(context);
        try
        {
            if (AdminAuth.Check(context, config.Current) is { } denied)
            {
                throw denied;
            }
            var request = new ScanRequest { Principal = new Principal() };
            using (var body = await RequestBody.ReadJsonAsync(context, config.Current))
            {
                var root = body.RootElement;
                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                {
                    throw GatewayException.BadRequest("Send a JSON object with \"text\" (a string), and optionally \"policy\", \"output\", \"team\", \"project\", \"environment\".", "text");
                }
                request.Text = text.GetString()!;
                // Optional fields of the wrong type are refused, not read as absent: a policy author would
                // otherwise see the verdict of a different policy than the one asked for.
                request.Policy = JsonRead.String(root, "policy", "policy") ?? "";
                request.Output = JsonRead.Bool(root, "output", "output") ?? false;
                request.Principal.Team = JsonRead.String(root, "team", "team") ?? "";
                request.Principal.Project = JsonRead.String(root, "project", "project") ?? "";
                request.Principal.Environment = JsonRead.String(root, "environment", "environment") ?? "";
            }
            if (request.Policy.Length > 0 && !config.Current.Guard.Policies.ContainsKey(request.Policy))
            {
                throw new GatewayException(ErrorKind.NotFound, $"Unknown guard policy '{request.Policy}'; configured: {string.Join(", ", config.Current.Guard.Policies.Keys)}.", "policy");
            }
            var result = await guard.ScanAsync(request, context.RequestAborted);
            context.Response.ContentType = "application/json";
            await using var writer = new Utf8JsonWriter(context.Response.BodyWriter, ProviderHttp.WriterOptions);
            writer.WriteStartObject();
            writer.WriteString("policy", result.Policy);
            writer.WriteString("action", ActionName(result.Action));
            writer.WriteStartArray("findings");
            foreach (var finding in result.Findings)
            {
                writer.WriteStartObject();
                writer.WriteString("entity_type", finding.EntityType);
                writer.WriteNumber("count", finding.Count);
                writer.WriteString("action", ActionName(finding.Action));
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteStartArray("spans");
            foreach (var span in result.Spans)
            {
                writer.WriteStartObject();
                writer.WriteString("entity_type", span.EntityType);
                writer.WriteNumber("start", span.Start);
                writer.WriteNumber("length", span.Length);
                writer.WriteString("action", ActionName(span.Action));
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteString("rewritten", result.Rewritten);
            writer.WriteEndObject();
            await writer.FlushAsync(context.RequestAborted);
        }
        catch (GatewayException e) when (!context.Response.HasStarted)
        {
            await ErrorWriter.WriteAsync(context, e, ErrorShape.OpenAi);
        }
    }

    private static string ActionName(Contracts.Guard.V1.Action action) => action switch
    {
        Contracts.Guard.V1.Action.Allow => "allow",
        Contracts.Guard.V1.Action.Audit => "audit",
        Contracts.Guard.V1.Action.Redact => "redact",
        Contracts.Guard.V1.Action.Pseudonymize => "pseudonymize",
        Contracts.Guard.V1.Action.Block => "block",
        Contracts.Guard.V1.Action.RouteSelfHosted => "route_self_hosted",
        _ => "none",
    };
}
