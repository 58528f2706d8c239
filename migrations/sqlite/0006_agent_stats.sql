-- Per agent: identity, presence and operation totals.
CREATE TABLE rm_agent_stats (
    agent_id         TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    online           INTEGER NOT NULL,
    enabled          INTEGER NOT NULL,
    last_seen_us     INTEGER,
    total_ops        INTEGER NOT NULL,
    success_ops      INTEGER NOT NULL,
    failed_ops       INTEGER NOT NULL,
    confidence_sum   REAL NOT NULL,
    confidence_count INTEGER NOT NULL
);
CREATE INDEX rm_agent_stats_by_tenant ON rm_agent_stats (tenant_id, agent_id);

-- Operations per agent and UTC day.
CREATE TABLE rm_agent_daily_ops (
    agent_id TEXT NOT NULL,
    day      TEXT NOT NULL,
    ops      INTEGER NOT NULL,
    PRIMARY KEY (agent_id, day)
);

-- Each claimed task's agent and current status.
CREATE TABLE rm_agent_tasks (
    task_id  TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL,
    status   TEXT NOT NULL
);
CREATE INDEX rm_agent_tasks_by_agent ON rm_agent_tasks (agent_id, status);
