-- The task a run was made for, when the agent said.
ALTER TABLE rm_run_log ADD COLUMN task_id TEXT;

-- Each execution as it stands, with the tokens and cost of the runs its
-- tasks reported; `seq` is the position of its start, the key its list is
-- paged by. Times are microseconds since the epoch.
CREATE TABLE rm_executions (
    execution_id       TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL,
    workflow_id        TEXT NOT NULL,
    version            BIGINT NOT NULL,
    status             TEXT NOT NULL,
    input              TEXT NOT NULL,
    started_us         BIGINT NOT NULL,
    ended_us           BIGINT,
    failed_step        TEXT,
    error              TEXT,
    prompt_tokens      BIGINT NOT NULL,
    completion_tokens  BIGINT NOT NULL,
    cost_micros        BIGINT NOT NULL,
    runs               BIGINT NOT NULL,
    seq                BIGINT NOT NULL
);
CREATE INDEX rm_executions_by_tenant ON rm_executions (tenant_id, seq);
CREATE INDEX rm_executions_by_workflow ON rm_executions (workflow_id, seq);

-- Each step of each execution: its attempt under way or last made.
-- `deadline_us` is set only while an attempt is under way, so the
-- deadlines still to watch are the rows that have one.
CREATE TABLE rm_execution_steps (
    execution_id       TEXT NOT NULL,
    step               TEXT NOT NULL,
    ordinal            BIGINT NOT NULL,
    action             TEXT NOT NULL,
    status             TEXT NOT NULL,
    attempts           BIGINT NOT NULL,
    task_id            TEXT,
    input              TEXT,
    output             TEXT,
    error              TEXT,
    started_us         BIGINT,
    ended_us           BIGINT,
    deadline_us        BIGINT,
    prompt_tokens      BIGINT NOT NULL,
    completion_tokens  BIGINT NOT NULL,
    cost_micros        BIGINT NOT NULL,
    runs               BIGINT NOT NULL,
    PRIMARY KEY (execution_id, step)
);
CREATE INDEX rm_execution_steps_by_deadline ON rm_execution_steps (deadline_us)
    WHERE deadline_us IS NOT NULL;

-- Every task an execution created, for charging its runs to the step.
CREATE TABLE rm_execution_tasks (
    task_id       TEXT PRIMARY KEY,
    execution_id  TEXT NOT NULL,
    step          TEXT NOT NULL
);
