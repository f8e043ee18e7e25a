using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Contracts.Budget.V1;
using Gateway.Edge.Http;
using Gateway.Router.Providers;

namespace Gateway.Edge.Admin;

// /admin/v1/budgets: each budget's period, limit, committed, reserved, remaining and state, and manual
// adjustments (a credit or a correction booked to the current period). Bearer server.admin_key, compared
// in constant time; no admin key configured = the admin API is off (404).
public static class BudgetAdmin
{
    public static IEndpointRouteBuilder MapBudgetAdmin(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/admin/v1/budgets", ListAsync);
        endpoints.MapPost("/admin/v1/budgets/{name}/adjustments", AdjustAsync);
        return endpoints;
    }

    private static async Task ListAsync(HttpContext context, IBudgetService budgets, ConfigMonitor config)
    {
        GatewayHeaders.AssignRequestId(context);
        if (!await AuthorizeAsync(context, config))
        {
            return;
        }
        var list = await budgets.ListBudgetsAsync(context.RequestAborted);
        await WriteAsync(context, writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("object", "list");
            writer.WriteStartArray("data");
            foreach (var budget in list.Budgets)
            {
                Write(writer, budget);
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        });
    }

    private static async Task AdjustAsync(HttpContext context, string name, IBudgetService budgets, ConfigMonitor config)
    {
        GatewayHeaders.AssignRequestId(context);
        if (!await AuthorizeAsync(context, config))
        {
            return;
        }
        double amount;
        try
        {
            // Read within the body limits like every other route; the amount must be a finite number.
            using var body = await RequestBody.ReadJsonAsync(context, config.Current);
            amount = JsonRead.RequireObject(body.RootElement, "body").TryGetProperty("amount_usd", out var value)
                && value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number) && double.IsFinite(number)
                    ? number
                    : throw GatewayException.BadRequest("Expected a JSON body {\"amount_usd\": number} (positive books spend, negative credits it).", "amount_usd");
        }
        catch (GatewayException e)
        {
            await ErrorWriter.WriteAsync(context, e, ErrorShape.OpenAi);
            return;
        }
        try
        {
            var status = await budgets.AdjustBudgetAsync(new AdjustBudgetRequest { Name = name, AmountUsd = amount }, context.RequestAborted);
            await WriteAsync(context, writer => Write(writer, status));
        }
        catch (GatewayException e)
        {
            await ErrorWriter.WriteAsync(context, e, ErrorShape.OpenAi);
        }
    }

    private static async Task<bool> AuthorizeAsync(HttpContext context, ConfigMonitor config)
    {
        if (AdminAuth.Check(context, config.Current) is { } denied)
        {
            await ErrorWriter.WriteAsync(context, denied, ErrorShape.OpenAi);
            return false;
        }
        return true;
    }

    private static void Write(Utf8JsonWriter writer, BudgetStatus budget)
    {
        writer.WriteStartObject();
        writer.WriteString("name", budget.Name);
        writer.WriteString("period", budget.Period);
        writer.WriteString("period_start", DateTimeOffset.FromUnixTimeSeconds(budget.PeriodStartUnix));
        writer.WriteString("period_end", DateTimeOffset.FromUnixTimeSeconds(budget.PeriodEndUnix));
        writer.WriteNumber("limit_usd", budget.LimitUsd);
        writer.WriteNumber("committed_usd", budget.CommittedUsd);
        writer.WriteNumber("reserved_usd", budget.ReservedUsd);
        writer.WriteNumber("remaining_usd", budget.RemainingUsd);
        writer.WriteString("state", budget.State);
        writer.WriteStartArray("alerts_fired");
        foreach (var threshold in budget.AlertsFired)
        {
            writer.WriteNumberValue(threshold);
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static async Task WriteAsync(HttpContext context, Action<Utf8JsonWriter> write)
    {
        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.BodyWriter, ProviderHttp.WriterOptions);
        write(writer);
        await writer.FlushAsync(context.RequestAborted);
    }
}
