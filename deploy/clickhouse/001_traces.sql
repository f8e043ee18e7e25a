-- One row per request. ReplacingMergeTree keyed by request id (within its day and team): a replayed event
-- replaces its earlier copy at merge time, and queries that must be exact read with FINAL. Inserts also carry
-- an insert_deduplication_token per batch, so a retried batch is dropped before it reaches the rollups.
CREATE TABLE IF NOT EXISTS {database}.traces
(
    request_id          String,
    started_at          DateTime64(3, 'UTC'),
    finished_at         DateTime64(3, 'UTC'),
    api                 LowCardinality(String),
    key_name            LowCardinality(String),
    team                LowCardinality(String),
    project             LowCardinality(String),
    environment         LowCardinality(String),
    user                String,
    requested_model     LowCardinality(String),
    served_model        LowCardinality(String),
    provider            LowCardinality(String),
    upstream_model      LowCardinality(String),
    deployment          LowCardinality(String),
    stream              Bool,
    status              LowCardinality(String),
    error_class         LowCardinality(String),
    http_status         UInt16,
    input_tokens        UInt32,
    output_tokens       UInt32,
    cached_input_tokens UInt32,
    reasoning_tokens    UInt32,
    cost_usd            Float64,
    attempts            Array(Tuple(provider String, model String, upstream_model String, http_status UInt16, error_class String, latency_ms Float64)),
    auth_ms             Float32,
    prompt_ms           Float32,
    guard_in_ms         Float32,
    budget_ms           Float32,
    routing_ms          Float32,
    provider_ttft_ms    Float32,
    provider_total_ms   Float32,
    guard_out_ms        Float32,
    total_ms            Float32,
    overhead_ms         Float32,
    prompt_name         LowCardinality(String),
    prompt_version      UInt32,
    prompt_label        LowCardinality(String),
    experiment          LowCardinality(String),
    experiment_arm      LowCardinality(String),
    guard_action        LowCardinality(String),
    guard_findings      Map(LowCardinality(String), UInt32),
    metadata            Map(String, String),
    tags                Array(LowCardinality(String)),
    capture             LowCardinality(String),
    request_body        String CODEC(ZSTD(3)),
    response_body       String CODEC(ZSTD(3)),
    -- The whole event (protobuf, base64, bodies left out: they live in their own columns) for exact reads.
    event               String CODEC(ZSTD(3)),
    ingested_at         DateTime64(3, 'UTC'),
    INDEX idx_request_id request_id TYPE bloom_filter GRANULARITY 4,
    INDEX idx_user user TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toDate(started_at)
ORDER BY (team, toStartOfHour(started_at), request_id)
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 8192;
