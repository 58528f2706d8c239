-- Every budget of every tenant as it stands: the tenant's own, an agent's
-- (`agent:<id>`) or a model's (`model:<name>`), for lists and for the hard
-- stop checked on task claims and run reports. `seq` is the position of the
-- budget's first setting, the key its list is paged by; `thresholds` a JSON
-- array of percents. Times are microseconds since the epoch.
CREATE TABLE rm_budget_rules (
    tenant_id            TEXT NOT NULL,
    scope                TEXT NOT NULL,
    agent_id             TEXT,
    model                TEXT,
    daily_tokens         BIGINT,
    monthly_tokens       BIGINT,
    daily_cost_micros    BIGINT,
    monthly_cost_micros  BIGINT,
    thresholds           TEXT NOT NULL,
    hard_stop            BIGINT NOT NULL,
    updated_us           BIGINT NOT NULL,
    seq                  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, scope)
);
CREATE INDEX rm_budget_rules_by_seq ON rm_budget_rules (tenant_id, seq);
