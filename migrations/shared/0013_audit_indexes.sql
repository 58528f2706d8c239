-- Audit reads: everything one actor did, and everything one request caused.
-- Built inside the migration's transaction: on a large log, appends wait
-- while they build (CONCURRENTLY would deadlock servers migrating at once).
CREATE INDEX events_by_actor ON events (actor_id, position);
CREATE INDEX events_by_correlation ON events (correlation_id, position) WHERE correlation_id IS NOT NULL;
