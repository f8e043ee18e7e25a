-- Feedback on requests (POST /v1/feedback): a score from 0 to 1 and a comment, linked to the trace by request_id.
-- ReplacingMergeTree on request_id keeps the latest feedback per request; read with FINAL (or argMax) for exact
-- answers. Experiment statistics join it to the traces by request_id.
CREATE TABLE IF NOT EXISTS {database}.feedback
(
    request_id  String,
    score       Float64,
    comment     String CODEC(ZSTD(3)),
    key_name    LowCardinality(String),
    created_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(created_at)
ORDER BY request_id;

-- Experiment statistics and the per-version queries filter on the experiment and the prompt.
ALTER TABLE {database}.traces ADD INDEX IF NOT EXISTS idx_experiment experiment TYPE set(100) GRANULARITY 4;
ALTER TABLE {database}.traces ADD INDEX IF NOT EXISTS idx_prompt prompt_name TYPE set(100) GRANULARITY 4;
