-- Audit reads: everything one actor did, and everything one request caused.
CREATE INDEX events_by_actor ON events (actor_id, position);
CREATE INDEX events_by_correlation ON events (correlation_id, position) WHERE correlation_id IS NOT NULL;
