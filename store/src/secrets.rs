//! Signing secrets of webhook subscriptions. The server must know a secret to
//! sign with it, so it cannot keep only a hash as it does for agents' and API
//! keys' secrets; it keeps them beside the log, never in it, so exports and
//! audit reads of the log cannot show them.

use uuid::Uuid;

use crate::{Database, StoreError, on_database};

/// Stores the secret of a subscription about to be created (or rotated).
pub async fn save_webhook_secret(
    db: &Database,
    webhook_id: Uuid,
    secret: &str,
) -> Result<(), StoreError> {
    let _turn = db.write_turn().await;
    let now = crate::event::now().timestamp_micros();
    on_database!(db, p => sqlx::query(
        "INSERT INTO webhook_secrets (webhook_id, secret, created_us) VALUES ($1, $2, $3) \
         ON CONFLICT (webhook_id) DO UPDATE SET secret = excluded.secret, created_us = excluded.created_us"
    )
    .bind(webhook_id.to_string())
    .bind(secret)
    .bind(now)
    .execute(p)
    .await
    .map(|_| ())?);
    Ok(())
}

/// The secret deliveries to the subscription are signed with.
pub async fn webhook_secret(db: &Database, webhook_id: Uuid) -> Result<Option<String>, StoreError> {
    let row: Option<(String,)> = on_database!(db, p => sqlx::query_as(
        "SELECT secret FROM webhook_secrets WHERE webhook_id = $1"
    )
    .bind(webhook_id.to_string())
    .fetch_optional(p)
    .await?);
    Ok(row.map(|(secret,)| secret))
}
