-- Signing secrets of webhook subscriptions, kept beside the log and never in
-- it, so neither exports nor audit reads can show them.
CREATE TABLE webhook_secrets (
    webhook_id TEXT PRIMARY KEY,
    secret     TEXT NOT NULL,
    created_us BIGINT NOT NULL
);

-- A subscription stopped by its receiver (410) or by an operator.
ALTER TABLE rm_webhooks ADD COLUMN disabled_reason TEXT;

-- Each delivery of an event to a subscription, as it stands; `seq` is the
-- position of its scheduling, the key its list is paged by.
CREATE TABLE rm_webhook_deliveries (
    delivery_id      TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    webhook_id       TEXT NOT NULL,
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
CREATE INDEX rm_webhook_deliveries_by_webhook ON rm_webhook_deliveries (webhook_id, seq);
