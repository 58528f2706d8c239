//! How long remembered answers to `Idempotency-Key` requests are kept, and
//! the worker that forgets them after that.

use std::sync::Arc;
use std::time::Duration;

use agentledger_store::IdempotencyStore;
use tokio::task::JoinHandle;

/// How long answers are kept.
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);

/// Deletes expired answers every hour.
pub fn spawn_pruner(store: Arc<dyn IdempotencyStore>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut hourly = tokio::time::interval(Duration::from_secs(3600));
        loop {
            hourly.tick().await;
            let before = chrono::Utc::now().timestamp() - RETENTION.as_secs() as i64;
            match store.prune(before).await {
                Ok(n) if n > 0 => tracing::info!(pruned = n, "expired idempotency keys removed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot prune idempotency keys"),
            }
        }
    })
}
