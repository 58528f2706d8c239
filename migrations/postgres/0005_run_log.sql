-- The run log: one row per recorded LLM run.
CREATE TABLE rm_run_log (
    position          BIGINT PRIMARY KEY,
    run_id            TEXT NOT NULL UNIQUE,
    tenant_id         TEXT NOT NULL,
    agent_id          TEXT NOT NULL,
    app_type          TEXT NOT NULL,
    trigger_type      TEXT NOT NULL,
    member_id         TEXT,
    model             TEXT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cost_micros       BIGINT NOT NULL,
    latency_ms        BIGINT NOT NULL,
    status            TEXT NOT NULL,
    error_message     TEXT,
    session_id        TEXT,
    prompt            TEXT,
    response          TEXT,
    occurred_at_us    BIGINT NOT NULL
);
CREATE INDEX rm_run_log_by_tenant ON rm_run_log (tenant_id, position);
