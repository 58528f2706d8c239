-- The event log. `position` is the rowid: global order, assigned by the writer
-- while it holds the write lock, so it is gap-free.
CREATE TABLE events (
    position        INTEGER PRIMARY KEY,
    event_id        BLOB    NOT NULL UNIQUE,
    stream_id       TEXT    NOT NULL,
    stream_version  INTEGER NOT NULL,
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL,
    tenant_id       BLOB    NOT NULL,
    occurred_at     TEXT    NOT NULL,
    recorded_at     TEXT    NOT NULL,
    actor_kind      TEXT    NOT NULL,
    actor_id        TEXT    NOT NULL,
    correlation_id  BLOB,
    causation_id    BLOB,
    payload         TEXT    NOT NULL,
    hash            BLOB    NOT NULL,
    UNIQUE (stream_id, stream_version)
);

CREATE INDEX events_by_tenant ON events (tenant_id, position);

-- The last event's position and hash: the next append chains from here.
CREATE TABLE log_head (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL,
    hash     BLOB    NOT NULL
);

INSERT INTO log_head (id, position, hash) VALUES (1, 0, zeroblob(32));
