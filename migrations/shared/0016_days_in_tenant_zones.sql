-- Usage, agent stats and skipped duplicates count days in the tenant's time zone, as the
-- dashboard does: each keeps the zones as it saw them, event by event.
CREATE TABLE rm_usage_zones (
    tenant_id TEXT PRIMARY KEY,
    time_zone TEXT NOT NULL
);
CREATE TABLE rm_agent_stats_zones (
    tenant_id TEXT PRIMARY KEY,
    time_zone TEXT NOT NULL
);
CREATE TABLE rm_tasks_zones (
    tenant_id TEXT PRIMARY KEY,
    time_zone TEXT NOT NULL
);

-- Their days were UTC days until now: the three models start over and count the
-- log again when the server starts (the log is the truth; nothing is lost).
DELETE FROM rm_usage;
DELETE FROM rm_agent_stats;
DELETE FROM rm_agent_daily_ops;
DELETE FROM rm_agent_tasks;
DELETE FROM rm_tasks;
DELETE FROM rm_task_history;
DELETE FROM rm_task_skips;
DELETE FROM projection_checkpoints WHERE name IN ('usage', 'agent_stats', 'tasks');
