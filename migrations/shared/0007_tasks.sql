-- Every task as it is now.
CREATE TABLE rm_tasks (
    task_id          TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    task_type        TEXT NOT NULL,
    status           TEXT NOT NULL,
    priority         BIGINT NOT NULL,
    agent_id         TEXT,
    progress         BIGINT NOT NULL,
    progress_message TEXT,
    dedup_key        TEXT,
    retry_of         TEXT,
    retried_as       TEXT,
    result           TEXT,
    error            TEXT,
    created_us       BIGINT NOT NULL,
    updated_us       BIGINT NOT NULL,
    position         BIGINT NOT NULL
);
CREATE INDEX rm_tasks_by_tenant ON rm_tasks (tenant_id, position);

-- Each task's status changes and progress reports, in log order.
CREATE TABLE rm_task_history (
    task_id  TEXT NOT NULL,
    position BIGINT NOT NULL,
    status   TEXT NOT NULL,
    agent_id TEXT,
    percent  BIGINT,
    message  TEXT,
    at_us    BIGINT NOT NULL,
    PRIMARY KEY (task_id, position)
);

-- Tasks not created because their dedup key was held.
CREATE TABLE rm_task_skips (
    position     BIGINT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    task_id      TEXT NOT NULL,
    duplicate_of TEXT NOT NULL,
    dedup_key    TEXT NOT NULL,
    day          TEXT NOT NULL,
    at_us        BIGINT NOT NULL
);
CREATE INDEX rm_task_skips_by_day ON rm_task_skips (tenant_id, day, position);
