-- Enrollment tokens as they stand, for lists (never their secrets or their
-- hashes): what the agents they enroll get (`permissions` a JSON array),
-- their uses and expiry. Whether one has expired is settled when it is
-- listed. `seq` is the position of each one's creation, the key its list is
-- paged by. Times are microseconds since the epoch.
CREATE TABLE rm_enrollment_tokens (
    token_id               TEXT PRIMARY KEY,
    tenant_id              TEXT NOT NULL,
    label                  TEXT NOT NULL,
    kind                   TEXT,
    permissions            TEXT NOT NULL,
    rate_limit_per_minute  BIGINT NOT NULL,
    preset                 TEXT,
    max_uses               BIGINT NOT NULL,
    uses                   BIGINT NOT NULL,
    expires_us             BIGINT NOT NULL,
    created_us             BIGINT NOT NULL,
    last_used_us           BIGINT,
    revoked_us             BIGINT,
    seq                    BIGINT NOT NULL
);
CREATE INDEX rm_enrollment_tokens_by_tenant ON rm_enrollment_tokens (tenant_id, seq);
