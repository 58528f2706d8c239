-- How far each projection has applied the log. Advanced in the same
-- transaction as the read model it belongs to.
CREATE TABLE projection_checkpoints (
    name     TEXT    PRIMARY KEY,
    position INTEGER NOT NULL
);

-- The operation log: one row per recorded agent action.
CREATE TABLE rm_operation_log (
    position          INTEGER PRIMARY KEY,
    tenant_id         TEXT    NOT NULL,
    agent_id          TEXT    NOT NULL,
    action            TEXT    NOT NULL,
    resource_type     TEXT    NOT NULL,
    resource_id       TEXT,
    status            TEXT    NOT NULL,
    confidence        REAL,
    execution_time_ms INTEGER,
    occurred_at_us    INTEGER NOT NULL
);
CREATE INDEX rm_operation_log_by_tenant ON rm_operation_log (tenant_id, position);
