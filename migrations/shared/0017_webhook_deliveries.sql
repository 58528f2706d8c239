-- Signing secrets of webhook subscriptions (by subscription) and of task
-- callbacks (by tenant), kept beside the log and never in it, so neither
-- exports nor audit reads can show them.
CREATE TABLE signing_secrets (
    owner_id   TEXT PRIMARY KEY,
    secret     TEXT NOT NULL,
    created_us BIGINT NOT NULL
);

-- A subscription stopped by its receiver (410) or by an operator.
ALTER TABLE rm_webhooks ADD COLUMN disabled_reason TEXT;

-- Each delivery, as it stands: of an event to a subscription
-- (`endpoint_kind` 'webhook', `endpoint_id` the subscription) or of a task's
-- ending to its callback ('callback', the task); `seq` is the position of
-- its scheduling, the key its lists are paged by. Signing secrets are keyed
-- by subscription, or by tenant for callbacks.
CREATE TABLE rm_webhook_deliveries (
    delivery_id      TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    endpoint_kind    TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    event_position   BIGINT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    last_status_code BIGINT,
    last_error       TEXT,
    last_duration_ms BIGINT,
    next_attempt_us  BIGINT,
    created_us       BIGINT NOT NULL,
    updated_us       BIGINT NOT NULL,
    seq              BIGINT NOT NULL
);
CREATE INDEX rm_webhook_deliveries_by_endpoint ON rm_webhook_deliveries (endpoint_id, seq);
