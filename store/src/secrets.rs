//! Signing secrets of webhook subscriptions (keyed by the subscription) and
//! of task callbacks (keyed by the tenant). The server must know a secret to
//! sign with it, so it cannot keep only a hash as it does for agents' and API
//! keys' secrets; it keeps them beside the log, never in it, so exports and
//! audit reads of the log cannot show them.

use uuid::Uuid;

use crate::{Database, StoreError, on_database};

/// Stores `owner`'s secret, replacing any it had.
pub async fn save_signing_secret(
    db: &Database,
    owner: Uuid,
    secret: &str,
) -> Result<(), StoreError> {
    let _turn = db.write_turn().await;
    let now = crate::event::now().timestamp_micros();
    on_database!(db, p => sqlx::query(
        "INSERT INTO signing_secrets (owner_id, secret, created_us) VALUES ($1, $2, $3) \
         ON CONFLICT (owner_id) DO UPDATE SET secret = excluded.secret, created_us = excluded.created_us"
    )
    .bind(owner.to_string())
    .bind(secret)
    .bind(now)
    .execute(p)
    .await
    .map(|_| ())?);
    Ok(())
}

/// Forgets `owner`'s secret: its subscription is gone.
pub async fn delete_signing_secret(db: &Database, owner: Uuid) -> Result<(), StoreError> {
    let _turn = db.write_turn().await;
    on_database!(db, p => sqlx::query("DELETE FROM signing_secrets WHERE owner_id = $1")
        .bind(owner.to_string())
        .execute(p)
        .await
        .map(|_| ())?);
    Ok(())
}

/// `owner`'s secret, if it has one.
pub async fn signing_secret(db: &Database, owner: Uuid) -> Result<Option<String>, StoreError> {
    let row: Option<(String,)> = on_database!(db, p => sqlx::query_as(
        "SELECT secret FROM signing_secrets WHERE owner_id = $1"
    )
    .bind(owner.to_string())
    .fetch_optional(p)
    .await?);
    Ok(row.map(|(secret,)| secret))
}

/// `owner`'s secret, made `fresh` if it had none: of several servers asking
/// at once, the first one stored wins and all get it.
pub async fn signing_secret_or(
    db: &Database,
    owner: Uuid,
    fresh: &str,
) -> Result<String, StoreError> {
    {
        let _turn = db.write_turn().await;
        let now = crate::event::now().timestamp_micros();
        on_database!(db, p => sqlx::query(
            "INSERT INTO signing_secrets (owner_id, secret, created_us) VALUES ($1, $2, $3) \
             ON CONFLICT (owner_id) DO NOTHING"
        )
        .bind(owner.to_string())
        .bind(fresh)
        .bind(now)
        .execute(p)
        .await
        .map(|_| ())?);
    }
    Ok(signing_secret(db, owner)
        .await?
        .unwrap_or_else(|| fresh.to_owned()))
}
