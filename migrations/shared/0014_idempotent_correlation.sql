-- A replayed answer carries the correlation id of the request that made it,
-- the one its events carry.
ALTER TABLE idempotency_keys ADD COLUMN correlation_id TEXT;
