-- Tenants, API keys (never their secrets) and command templates as they
-- stand, for lists; `seq` is the position of each one's creation, the key
-- its list is paged by. Times are microseconds since the epoch.
CREATE TABLE rm_tenants (
    tenant_id   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    time_zone   TEXT,
    created_us  BIGINT NOT NULL,
    seq         BIGINT NOT NULL
);
CREATE TABLE rm_api_keys (
    key_id      TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    role        TEXT NOT NULL,
    label       TEXT NOT NULL,
    created_us  BIGINT NOT NULL,
    revoked_us  BIGINT,
    seq         BIGINT NOT NULL
);
CREATE INDEX rm_api_keys_by_tenant ON rm_api_keys (tenant_id, seq);
CREATE TABLE rm_command_templates (
    template_id      TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    name             TEXT NOT NULL,
    command          TEXT NOT NULL,
    args             TEXT NOT NULL,
    timeout_seconds  BIGINT NOT NULL,
    created_us       BIGINT NOT NULL,
    updated_us       BIGINT NOT NULL,
    seq              BIGINT NOT NULL
);
CREATE INDEX rm_command_templates_by_tenant ON rm_command_templates (tenant_id, seq);

-- Agents are listed from their stats, paged by the position of their
-- registration, with when they were retired: the model starts over and counts the log again when the
-- server starts (the log is the truth; nothing is lost).
ALTER TABLE rm_agent_stats ADD COLUMN seq BIGINT;
ALTER TABLE rm_agent_stats ADD COLUMN retired_us BIGINT;
CREATE INDEX rm_agent_stats_by_seq ON rm_agent_stats (tenant_id, seq);
DELETE FROM rm_agent_stats;
DELETE FROM rm_agent_daily_ops;
DELETE FROM rm_agent_tasks;
DELETE FROM rm_agent_stats_zones;
DELETE FROM projection_checkpoints WHERE name = 'agent_stats';
