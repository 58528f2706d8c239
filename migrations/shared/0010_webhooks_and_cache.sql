-- Webhook subscriptions as they are now (the secret's hash is left out).
CREATE TABLE rm_webhooks (
    webhook_id  TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    url         TEXT NOT NULL,
    event_types TEXT NOT NULL,
    created_us  BIGINT NOT NULL,
    updated_us  BIGINT NOT NULL
);
CREATE INDEX rm_webhooks_by_tenant ON rm_webhooks (tenant_id, webhook_id);

-- Cache entries stored and not invalidated; expiry is applied when read.
CREATE TABLE rm_cache_entries (
    tenant_id  TEXT NOT NULL,
    cache_type TEXT NOT NULL,
    target     TEXT NOT NULL,
    agent_id   TEXT NOT NULL,
    value      TEXT NOT NULL,
    stored_us  BIGINT NOT NULL,
    expires_us BIGINT,
    PRIMARY KEY (tenant_id, cache_type, target)
);
