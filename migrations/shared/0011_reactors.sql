-- How far each reactor has acted on the log, and the state it needs to go
-- on from there (JSON).
CREATE TABLE reactor_checkpoints (
    name     TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    state    TEXT NOT NULL
);

-- Unfinished commands by deadline, for the command timeouts.
CREATE INDEX rm_commands_open ON rm_commands (status, deadline_us);
