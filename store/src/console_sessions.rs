//! Web console sessions, beside the log (never in it): a session is a
//! credential, held by its hash as API keys are. Every server of a deployment
//! reads the same table, so a session signed in on one is known to all and a
//! sign-out on one ends it everywhere.

use uuid::Uuid;

use crate::{Database, StoreError, on_database};

/// A session as stored: whose key it acts as, the tenant it shows and the
/// token its writes must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub key_id: Uuid,
    pub tenant_id: Uuid,
    pub csrf: String,
    /// Unix microseconds.
    pub expires_us: i64,
}

/// Stores a new session under `token_hash`, and forgets the expired ones
/// (sessions are few and signing in is rare, so this is where they go).
pub async fn start_session(
    db: &Database,
    token_hash: &str,
    session: &StoredSession,
    now_us: i64,
) -> Result<(), StoreError> {
    let _turn = db.write_turn().await;
    on_database!(db, p => sqlx::query("DELETE FROM console_sessions WHERE expires_us <= $1")
        .bind(now_us)
        .execute(p)
        .await
        .map(|_| ())?);
    on_database!(db, p => sqlx::query(
        "INSERT INTO console_sessions (token_hash, key_id, tenant_id, csrf, created_us, expires_us) \
         VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(token_hash)
    .bind(session.key_id.to_string())
    .bind(session.tenant_id.to_string())
    .bind(&session.csrf)
    .bind(now_us)
    .bind(session.expires_us)
    .execute(p)
    .await
    .map(|_| ())?);
    Ok(())
}

/// The session stored under `token_hash`, if it has not expired at `now_us`.
pub async fn session(
    db: &Database,
    token_hash: &str,
    now_us: i64,
) -> Result<Option<StoredSession>, StoreError> {
    let row: Option<(String, String, String, i64)> = on_database!(db, p => sqlx::query_as(
        "SELECT key_id, tenant_id, csrf, expires_us FROM console_sessions \
         WHERE token_hash = $1 AND expires_us > $2"
    )
    .bind(token_hash)
    .bind(now_us)
    .fetch_optional(p)
    .await?);
    let Some((key_id, tenant_id, csrf, expires_us)) = row else {
        return Ok(None);
    };
    let id = |text: &str| {
        text.parse::<Uuid>()
            .map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))
    };
    Ok(Some(StoredSession {
        key_id: id(&key_id)?,
        tenant_id: id(&tenant_id)?,
        csrf,
        expires_us,
    }))
}

/// Points the session at another tenant (an admin switching).
pub async fn switch_tenant(
    db: &Database,
    token_hash: &str,
    tenant_id: Uuid,
) -> Result<(), StoreError> {
    let _turn = db.write_turn().await;
    on_database!(db, p => sqlx::query("UPDATE console_sessions SET tenant_id = $1 WHERE token_hash = $2")
        .bind(tenant_id.to_string())
        .bind(token_hash)
        .execute(p)
        .await
        .map(|_| ())?);
    Ok(())
}

/// Ends the session (sign-out): its cookie opens nothing any more.
pub async fn end_session(db: &Database, token_hash: &str) -> Result<(), StoreError> {
    let _turn = db.write_turn().await;
    on_database!(db, p => sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(p)
        .await
        .map(|_| ())?);
    Ok(())
}
