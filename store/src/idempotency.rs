//! Remembered answers to commands sent with an `Idempotency-Key`.
//!
//! The first request with a key claims it; its answer is stored; a retry with
//! the same key and the same request gets that answer again; the same key
//! with a different request is refused. A claim whose request never finished
//! (the server died) may be taken over after `STALE_AFTER_SECONDS`.

use async_trait::async_trait;

use crate::database::Database;
use crate::error::StoreError;
use crate::on_database;

pub const STALE_AFTER_SECONDS: i64 = 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
    /// The `X-Correlation-Id` of the first answer.
    pub correlation_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This request owns the key: run it, then `complete` or `release`.
    New,
    /// The key was used for this same request; here is its answer.
    Replay(StoredAnswer),
    /// The first request with this key is still running.
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    async fn claim(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
    ) -> Result<Claim, StoreError>;
    async fn complete(
        &self,
        scope: &str,
        key: &str,
        answer: &StoredAnswer,
    ) -> Result<(), StoreError>;
    /// Forgets a claim whose request failed, so a retry runs it again.
    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError>;
    /// Deletes answers older than `before` (unix seconds); returns how many.
    async fn prune(&self, before: i64) -> Result<u64, StoreError>;
}

pub(crate) struct SqlIdempotency {
    pub database: Database,
}

type Row = (
    String,
    Option<i32>,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
);

#[async_trait]
impl IdempotencyStore for SqlIdempotency {
    async fn claim(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
    ) -> Result<Claim, StoreError> {
        let turn = self.database.write_turn().await;
        let inserted = on_database!(&self.database, p => sqlx::query(
            "INSERT INTO idempotency_keys (scope, idem_key, fingerprint, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (scope, idem_key) DO NOTHING",
        )
        .bind(scope).bind(key).bind(fingerprint).bind(now)
        .execute(p).await?.rows_affected());
        drop(turn);
        if inserted == 1 {
            return Ok(Claim::New);
        }
        let row: Option<Row> = on_database!(&self.database, p => sqlx::query_as(
            "SELECT fingerprint, status, content_type, body, created_at, correlation_id FROM idempotency_keys \
             WHERE scope = $1 AND idem_key = $2",
        )
        .bind(scope).bind(key)
        .fetch_optional(p).await?);
        let Some((stored_fingerprint, status, content_type, body, created_at, correlation_id)) =
            row
        else {
            // Released between our insert and read: try once more.
            return Box::pin(self.claim(scope, key, fingerprint, now)).await;
        };
        if stored_fingerprint != fingerprint {
            return Ok(Claim::Mismatch);
        }
        if let Some(status) = status {
            let status = u16::try_from(status).unwrap_or(500);
            return Ok(Claim::Replay(StoredAnswer {
                status,
                content_type,
                body: body.unwrap_or_default(),
                correlation_id,
            }));
        }
        if created_at + STALE_AFTER_SECONDS > now {
            return Ok(Claim::InProgress);
        }
        let _turn = self.database.write_turn().await;
        let taken = on_database!(&self.database, p => sqlx::query(
            "UPDATE idempotency_keys SET created_at = $1 \
             WHERE scope = $2 AND idem_key = $3 AND status IS NULL AND created_at = $4",
        )
        .bind(now).bind(scope).bind(key).bind(created_at)
        .execute(p).await?.rows_affected());
        Ok(if taken == 1 {
            Claim::New
        } else {
            Claim::InProgress
        })
    }

    async fn complete(
        &self,
        scope: &str,
        key: &str,
        answer: &StoredAnswer,
    ) -> Result<(), StoreError> {
        let _turn = self.database.write_turn().await;
        on_database!(&self.database, p => sqlx::query(
            "UPDATE idempotency_keys SET status = $1, content_type = $2, body = $3, correlation_id = $4 \
             WHERE scope = $5 AND idem_key = $6",
        )
        .bind(i32::from(answer.status)).bind(answer.content_type.clone()).bind(answer.body.clone())
        .bind(answer.correlation_id.clone()).bind(scope).bind(key)
        .execute(p).await?.rows_affected());
        Ok(())
    }

    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        let _turn = self.database.write_turn().await;
        on_database!(&self.database, p => sqlx::query(
            "DELETE FROM idempotency_keys WHERE scope = $1 AND idem_key = $2 AND status IS NULL",
        )
        .bind(scope).bind(key)
        .execute(p).await?.rows_affected());
        Ok(())
    }

    async fn prune(&self, before: i64) -> Result<u64, StoreError> {
        let _turn = self.database.write_turn().await;
        Ok(
            on_database!(&self.database, p => sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(before)
            .execute(p).await?.rows_affected()),
        )
    }
}
