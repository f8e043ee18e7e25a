-- Audit of every MCP tools/call made through the gateway (one row per call; ReplacingMergeTree on id, so a
-- replayed event never counts twice). Written by the traces service in the mesh; SQLite `mcp_audit` has the
-- same columns when embedded. Applied at start as a versioned migration, like the traces schema.
CREATE TABLE IF NOT EXISTS {database}.mcp_audit
(
    id             String,
    time           DateTime64(3, 'UTC'),
    session        String,
    principal      LowCardinality(String),
    user           String,
    team           LowCardinality(String),
    roles          Array(LowCardinality(String)),
    client_name    LowCardinality(String),
    client_version LowCardinality(String),
    endpoint       LowCardinality(String),
    server         LowCardinality(String),
    tool           LowCardinality(String),
    arguments      String CODEC(ZSTD(3)),
    outcome        Enum8('ok' = 1, 'error' = 2, 'denied' = 3, 'rate_limited' = 4, 'timeout' = 5),
    reason         String,
    latency_ms     Float64,
    result_bytes   UInt64,
    justification  String,
    tool_call_id   String,
    trace_id       String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (time, id)
TTL toDateTime(time) + INTERVAL 400 DAY;
