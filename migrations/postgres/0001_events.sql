-- The event log. Positions are assigned by the appender while it holds the
-- row lock on log_head, so they are gap-free and commit in order.
CREATE TABLE events (
    position        BIGINT      PRIMARY KEY,
    event_id        UUID        NOT NULL UNIQUE,
    stream_id       TEXT        NOT NULL,
    stream_version  BIGINT      NOT NULL,
    event_type      TEXT        NOT NULL,
    schema_version  INTEGER     NOT NULL,
    tenant_id       UUID        NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    actor_kind      TEXT        NOT NULL,
    actor_id        TEXT        NOT NULL,
    correlation_id  UUID,
    causation_id    UUID,
    payload         TEXT        NOT NULL,
    hash            BYTEA       NOT NULL,
    UNIQUE (stream_id, stream_version)
);

CREATE INDEX events_by_tenant ON events (tenant_id, position);

-- The last event's position and hash. Every append locks this row (FOR UPDATE)
-- until it commits: that lock is what serialises position assignment.
CREATE TABLE log_head (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    position BIGINT  NOT NULL,
    hash     BYTEA   NOT NULL
);

INSERT INTO log_head (id, position, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
