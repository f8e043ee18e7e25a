namespace Gateway.Budget;

internal static partial class BudgetLog
{
    [LoggerMessage(1, LogLevel.Warning, "Budget alert: budget {Budget} reached {Threshold:P0} of its limit ({Committed} of {Limit} USD) in the period starting {PeriodStart}")]
    public static partial void AlertFired(ILogger logger, string budget, double threshold, decimal committed, decimal limit, DateTimeOffset periodStart);

    [LoggerMessage(2, LogLevel.Warning, "Budget alert webhook for {Budget} failed (attempt {Attempt} of {Attempts})")]
    public static partial void WebhookFailed(ILogger logger, Exception? exception, string budget, int attempt, int attempts);

    [LoggerMessage(3, LogLevel.Error, "Budget store unreachable during {Operation}")]
    public static partial void StoreUnreachable(ILogger logger, Exception exception, string operation);

    [LoggerMessage(4, LogLevel.Information, "Budget alert webhook for {Budget} delivered")]
    public static partial void WebhookDelivered(ILogger logger, string budget);

    [LoggerMessage(5, LogLevel.Warning, "Could not publish the budget usage event of reservation {ReservationId}")]
    public static partial void UsagePublishFailed(ILogger logger, Exception exception, string reservationId);

    [LoggerMessage(6, LogLevel.Warning, "Budget store still unreachable: {Pending} settlement(s) or ledger write(s) waiting, next try in {DelayMs} ms")]
    public static partial void RetryFailed(ILogger logger, Exception exception, int pending, long delayMs);
}
