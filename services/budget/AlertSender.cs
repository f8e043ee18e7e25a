using System.Net.Http.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using Gateway.Common.Configuration;

namespace Gateway.Budget;

public sealed record BudgetAlert(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("budget")] string Budget,
    [property: JsonPropertyName("threshold")] double Threshold,
    [property: JsonPropertyName("limit_usd")] decimal LimitUsd,
    [property: JsonPropertyName("committed_usd")] decimal CommittedUsd,
    [property: JsonPropertyName("period_start")] DateTimeOffset PeriodStart,
    [property: JsonPropertyName("period_end")] DateTimeOffset PeriodEnd,
    [property: JsonPropertyName("fired_at")] DateTimeOffset FiredAt);

[JsonSerializable(typeof(BudgetAlert))]
internal sealed partial class BudgetJsonContext : JsonSerializerContext;

// Delivers alerts to `alerts.webhook` in the background (JSON POST, retried with backoff), so a slow hook
// never delays a request. Each alert is logged when it fires, delivered or not.
public sealed class AlertSender(IHttpClientFactory http, ConfigMonitor config, TimeProvider time, ILogger<AlertSender> logger) : BackgroundService, IAlertSink
{
    public const string ClientName = "budget-alerts";

    private readonly Channel<BudgetAlert> _queue = Channel.CreateBounded<BudgetAlert>(new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.DropOldest });

    public void Enqueue(BudgetAlert alert)
    {
        BudgetLog.AlertFired(logger, alert.Budget, alert.Threshold, alert.CommittedUsd, alert.LimitUsd, alert.PeriodStart);
        _queue.Writer.TryWrite(alert);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var alert in _queue.Reader.ReadAllAsync(stoppingToken))
        {
            var alerts = config.Current.Alerts;
            if (alerts.Webhook is not { } webhook)
            {
                continue;
            }
            var attempts = Math.Max(1, alerts.Retries + 1);
            for (var attempt = 1; attempt <= attempts; attempt++)
            {
                try
                {
                    using var client = http.CreateClient(ClientName);
                    using var response = await client.PostAsJsonAsync(webhook, alert, BudgetJsonContext.Default.BudgetAlert, stoppingToken);
                    if (response.IsSuccessStatusCode)
                    {
                        BudgetLog.WebhookDelivered(logger, alert.Budget);
                        break;
                    }
                    BudgetLog.WebhookFailed(logger, null, alert.Budget, attempt, attempts);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !stoppingToken.IsCancellationRequested)
                {
                    BudgetLog.WebhookFailed(logger, e, alert.Budget, attempt, attempts);
                }
                if (attempt < attempts)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200 * (1 << attempt)), time, stoppingToken);
                }
            }
        }
    }
}
