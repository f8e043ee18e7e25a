using Gateway.Contracts.Inference.V1;
using Gateway.Router.Pipeline;

namespace Gateway.Edge.Http;

public static class GatewayHeaders
{
    public const string RequestIdItem = "gateway.request_id";

    // Every response carries x-request-id (the trace id). A client may propose one; it is kept only when
    // it is short and plain, so nothing a client sends can inject headers or log lines.
    public static string AssignRequestId(HttpContext context)
    {
        if (context.Items[RequestIdItem] is string assigned)
        {
            return assigned;
        }
        var proposed = context.Request.Headers["x-request-id"].ToString();
        var id = proposed.Length is > 0 and <= 128 && proposed.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')
            ? proposed
            : InferencePipeline.NewRequestId();
        context.Items[RequestIdItem] = id;
        context.Response.Headers["x-request-id"] = id;
        return id;
    }

    public static void Served(HttpResponse response, ServedBy? served)
    {
        if (served is null)
        {
            return;
        }
        response.Headers["x-gateway-provider"] = served.Provider;
        response.Headers["x-gateway-model"] = served.Model;
        response.Headers["x-gateway-attempts"] = served.Attempts.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (served.HasBudgetRemainingUsd)
        {
            response.Headers["x-gateway-budget-remaining"] = served.BudgetRemainingUsd.ToString("0.######", System.Globalization.CultureInfo.InvariantCulture);
        }
        if (served.PromptName.Length > 0)
        {
            response.Headers["x-gateway-prompt"] = served.PromptName;
            response.Headers["x-gateway-prompt-version"] = served.PromptVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (served.PromptLabel.Length > 0)
            {
                response.Headers["x-gateway-prompt-label"] = served.PromptLabel;
            }
            if (served.Experiment.Length > 0)
            {
                response.Headers["x-gateway-experiment"] = served.Experiment;
                response.Headers["x-gateway-experiment-arm"] = served.ExperimentArm;
            }
        }
        if (served.DowngradeReason.Length > 0)
        {
            response.Headers["x-gateway-downgrade-reason"] = served.DowngradeReason;
        }
        if (served.RateLimit is { } rate)
        {
            var headers = new Dictionary<string, string>();
            BudgetHeaders.RateLimit(headers, rate);
            foreach (var (name, value) in headers)
            {
                response.Headers[name] = value;
            }
        }
    }

    public static string? BearerKey(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : null;
    }
}
