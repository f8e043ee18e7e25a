-- Spend and traffic per team / project / model / provider per hour. Fed by a materialized view on insert;
-- the batch token deduplicates retried batches here too (non_replicated_deduplication_window).
CREATE TABLE IF NOT EXISTS {database}.spend_hourly
(
    hour          DateTime('UTC'),
    team          LowCardinality(String),
    project       LowCardinality(String),
    model         LowCardinality(String),
    provider      LowCardinality(String),
    requests      UInt64,
    errors        UInt64,
    input_tokens  UInt64,
    output_tokens UInt64,
    cost_usd      Float64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, team, project, model, provider)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.spend_hourly_mv TO {database}.spend_hourly AS
SELECT
    toStartOfHour(started_at) AS hour,
    team,
    project,
    served_model AS model,
    provider,
    count() AS requests,
    countIf(status != 'ok') AS errors,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cost_usd) AS cost_usd
FROM {database}.traces
GROUP BY hour, team, project, model, provider;

-- Latency and errors per model / provider per hour, as mergeable quantile states.
CREATE TABLE IF NOT EXISTS {database}.latency_hourly
(
    hour        DateTime('UTC'),
    model       LowCardinality(String),
    provider    LowCardinality(String),
    requests    AggregateFunction(count),
    errors      AggregateFunction(countIf, UInt8),
    total_ms    AggregateFunction(quantiles(0.5, 0.95, 0.99), Float32),
    overhead_ms AggregateFunction(quantiles(0.5, 0.95, 0.99), Float32),
    ttft_ms     AggregateFunction(quantiles(0.5, 0.95, 0.99), Float32)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, model, provider)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.latency_hourly_mv TO {database}.latency_hourly AS
SELECT
    toStartOfHour(started_at) AS hour,
    served_model AS model,
    provider,
    countState() AS requests,
    countIfState(status != 'ok') AS errors,
    quantilesState(0.5, 0.95, 0.99)(total_ms) AS total_ms,
    quantilesState(0.5, 0.95, 0.99)(overhead_ms) AS overhead_ms,
    quantilesState(0.5, 0.95, 0.99)(provider_ttft_ms) AS ttft_ms
FROM {database}.traces
GROUP BY hour, model, provider;
