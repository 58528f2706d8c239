-- Each tool as its latest version stands; `seq` is the position of its
-- registration, the key its list is paged by. Every version stays in the
-- tool's stream.
CREATE TABLE rm_tools (
    tool_id          TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    name             TEXT NOT NULL,
    description      TEXT NOT NULL,
    kind             TEXT NOT NULL,
    endpoint         TEXT NOT NULL,
    auth_ref         TEXT,
    input_schema     TEXT NOT NULL,
    version          BIGINT NOT NULL,
    disabled_reason  TEXT,
    last_test_ok     BOOLEAN,
    last_tested_us   BIGINT,
    created_us       BIGINT NOT NULL,
    updated_us       BIGINT NOT NULL,
    seq              BIGINT NOT NULL
);
CREATE INDEX rm_tools_by_tenant ON rm_tools (tenant_id, seq);
