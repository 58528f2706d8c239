-- Dashboard counters: one row per tenant, UTC day and app type, so the
-- dashboard reads a bounded number of rows however long the log grows.
CREATE TABLE rm_app_daily (
    tenant_id      TEXT    NOT NULL,
    day            TEXT    NOT NULL,
    app_type       TEXT    NOT NULL,
    calls          INTEGER    NOT NULL,
    successes      INTEGER    NOT NULL,
    tokens         INTEGER    NOT NULL,
    latency_ms_sum INTEGER    NOT NULL,
    cost_micros    INTEGER    NOT NULL,
    PRIMARY KEY (tenant_id, day, app_type)
);

-- The last run of each app type.
CREATE TABLE rm_app_health (
    tenant_id   TEXT NOT NULL,
    app_type    TEXT NOT NULL,
    last_status TEXT NOT NULL,
    last_at_us  INTEGER NOT NULL,
    position    INTEGER NOT NULL,
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
    raised_at_us INTEGER NOT NULL,
    position    INTEGER NOT NULL
);
CREATE INDEX rm_alerts_by_tenant ON rm_alerts (tenant_id, position);

-- Each tenant's budget limits.
CREATE TABLE rm_budgets (
    tenant_id           TEXT PRIMARY KEY,
    daily_tokens        INTEGER,
    monthly_tokens      INTEGER,
    daily_cost_micros   INTEGER,
    monthly_cost_micros INTEGER
);
