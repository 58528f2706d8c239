-- Answers to commands sent with an Idempotency-Key, so a retry gets the first
-- answer (also after a restart). Not part of the event log: rows expire.
CREATE TABLE idempotency_keys (
    scope        TEXT    NOT NULL,
    idem_key     TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,
    status       INTEGER,
    content_type TEXT,
    body         TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
