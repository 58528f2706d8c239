-- Every command sent to an agent, with its streamed output and result.
CREATE TABLE rm_commands (
    command_id      TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    agent_id        TEXT NOT NULL,
    command         TEXT NOT NULL,
    args            TEXT NOT NULL,
    template_id     TEXT,
    status          TEXT NOT NULL,
    issued_us       BIGINT NOT NULL,
    deadline_us     BIGINT NOT NULL,
    finished_us     BIGINT,
    success         BIGINT,
    exit_code       BIGINT,
    output          TEXT,
    streamed_output TEXT NOT NULL,
    position        BIGINT NOT NULL
);
CREATE INDEX rm_commands_by_agent ON rm_commands (agent_id, position);
