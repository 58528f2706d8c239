-- Dashboard counters: one row per tenant, UTC day and app type, so the
-- dashboard reads a bounded number of rows however long the log grows.
CREATE TABLE rm_app_daily (
    tenant_id      TEXT    NOT NULL,
    day            TEXT    NOT NULL,
    app_type       TEXT    NOT NULL,
    calls          BIGINT    NOT NULL,
    successes      BIGINT    NOT NULL,
    tokens         BIGINT    NOT NULL,
    latency_ms_sum BIGINT    NOT NULL,
    cost_micros    BIGINT    NOT NULL,
    PRIMARY KEY (tenant_id, day, app_type)
);

-- The last run of each app type.
CREATE TABLE rm_app_health (
    tenant_id   TEXT NOT NULL,
    app_type    TEXT NOT NULL,
    last_status TEXT NOT NULL,
    last_at_us  BIGINT NOT NULL,
    position    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, app_type)
);

-- Alerts and their handling.
CREATE TABLE rm_alerts (
    alert_id    TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    source      TEXT NOT NULL,
    severity    TEXT NOT NULL,
    title       TEXT NOT NULL,
    detail      TEXT NOT NULL,
    status      TEXT NOT NULL,
    raised_at_us BIGINT NOT NULL,
    position    BIGINT NOT NULL
);
CREATE INDEX rm_alerts_by_tenant ON rm_alerts (tenant_id, position);

-- Each tenant's budget limits.
CREATE TABLE rm_budgets (
    tenant_id           TEXT PRIMARY KEY,
    daily_tokens        BIGINT,
    monthly_tokens      BIGINT,
    daily_cost_micros   BIGINT,
    monthly_cost_micros BIGINT
);
