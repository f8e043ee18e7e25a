-- What the guard did on each MCP tool call (policy, strongest action, findings as type -> count, never
-- values), the `blocked` outcome (the guard refused the arguments or the result), and the whole event
-- (protobuf, base64) for exact reads by the admin API.
ALTER TABLE {database}.mcp_audit
    ADD COLUMN IF NOT EXISTS guard_policy LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS guard_action LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS guard_findings Map(LowCardinality(String), UInt32),
    ADD COLUMN IF NOT EXISTS event String DEFAULT '' CODEC(ZSTD(3)),
    MODIFY COLUMN outcome Enum8('ok' = 1, 'error' = 2, 'denied' = 3, 'rate_limited' = 4, 'timeout' = 5, 'blocked' = 6);
-- As for traces: a retried insert (same insert_deduplication_token) is dropped.
ALTER TABLE {database}.mcp_audit MODIFY SETTING non_replicated_deduplication_window = 10000;
