-- Per agent: identity, presence and operation totals.
CREATE TABLE rm_agent_stats (
    agent_id         TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    online           BIGINT NOT NULL,
    enabled          BIGINT NOT NULL,
    last_seen_us     BIGINT,
    total_ops        BIGINT NOT NULL,
    success_ops      BIGINT NOT NULL,
    failed_ops       BIGINT NOT NULL,
    confidence_sum   DOUBLE PRECISION NOT NULL,
    confidence_count BIGINT NOT NULL
);
CREATE INDEX rm_agent_stats_by_tenant ON rm_agent_stats (tenant_id, agent_id);

-- Operations per agent and UTC day.
CREATE TABLE rm_agent_daily_ops (
    agent_id TEXT NOT NULL,
    day      TEXT NOT NULL,
    ops      BIGINT NOT NULL,
    PRIMARY KEY (agent_id, day)
);

-- Each claimed task's agent and current status.
CREATE TABLE rm_agent_tasks (
    task_id  TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL,
    status   TEXT NOT NULL
);
CREATE INDEX rm_agent_tasks_by_agent ON rm_agent_tasks (agent_id, status);
