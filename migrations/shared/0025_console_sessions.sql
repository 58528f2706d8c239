-- Web console sessions: an operator signed in with an API key holds a cookie
-- whose hash is `token_hash`; the session acts as that key (`key_id`), so
-- revoking the key ends it too. `tenant_id` is the tenant the console shows
-- (an admin may switch); `csrf` is the token every write must carry. Kept
-- beside the log, never in it: a session is a credential, not a fact.
-- Times are microseconds since the epoch.
CREATE TABLE console_sessions (
    token_hash  TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL,
    tenant_id   TEXT NOT NULL,
    csrf        TEXT NOT NULL,
    created_us  BIGINT NOT NULL,
    expires_us  BIGINT NOT NULL
);
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_us);
