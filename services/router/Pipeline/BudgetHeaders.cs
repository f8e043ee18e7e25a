using System.Globalization;
using Gateway.Contracts.Budget.V1;
using Gateway.Contracts.Inference.V1;

namespace Gateway.Router.Pipeline;

// What a budget reservation tells the client: remaining budget, rate-limit state (x-ratelimit-* like
// OpenAI's) and why a cheaper model served.
public static class BudgetHeaders
{
    public static void Apply(ServedBy served, Reservation? reservation)
    {
        if (reservation is null)
        {
            return;
        }
        if (reservation.Budgets.Count > 0 && reservation.RemainingUsd >= 0)
        {
            served.BudgetRemainingUsd = reservation.RemainingUsd;
        }
        if (reservation.DowngradeTo.Length > 0)
        {
            served.DowngradeReason = reservation.DowngradeReason;
        }
        if (reservation.RateLimit is { } rate)
        {
            served.RateLimit = rate;
        }
    }

    public static IReadOnlyDictionary<string, string>? ForRefusal(Reservation reservation)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (reservation.RateLimit is { } rate)
        {
            RateLimit(headers, rate);
        }
        if (reservation.ResetAtUnix > 0)
        {
            headers["x-gateway-budget-reset"] = DateTimeOffset.FromUnixTimeSeconds(reservation.ResetAtUnix).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
            headers["x-gateway-budget-remaining"] = Math.Max(0, reservation.RemainingUsd).ToString("0.######", CultureInfo.InvariantCulture);
        }
        return headers.Count > 0 ? headers : null;
    }

    public static void RateLimit(IDictionary<string, string> headers, Contracts.Common.V1.RateLimitStatus rate)
    {
        var reset = rate.ResetSeconds.ToString(CultureInfo.InvariantCulture) + "s";
        if (rate.LimitRequests > 0)
        {
            headers["x-ratelimit-limit-requests"] = rate.LimitRequests.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-requests"] = rate.RemainingRequests.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-requests"] = reset;
        }
        if (rate.LimitTokens > 0)
        {
            headers["x-ratelimit-limit-tokens"] = rate.LimitTokens.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-tokens"] = rate.RemainingTokens.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-tokens"] = reset;
        }
    }
}
