//! Runs an in-memory projection: follows the log from the start, applies each
//! event, and publishes how far it got so callers can wait for their writes.

use std::sync::Arc;
use std::time::Duration;

use agentledger_store::{EventFilter, EventStore, Position, RecordedEvent};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub trait Apply: Send + Sync + 'static {
    fn apply(&self, event: &RecordedEvent);
}

/// The position an in-memory projection has applied, and a way to wait for it.
#[derive(Clone)]
pub struct Progress {
    applied: watch::Receiver<Position>,
}

impl Progress {
    pub fn new(applied: watch::Receiver<Position>) -> Self {
        Self { applied }
    }

    /// A progress that stays at 0.
    pub fn never() -> Self {
        let (tx, applied) = watch::channel(0);
        // With its sender gone, a wait fails at once instead of hanging.
        drop(tx);
        Self { applied }
    }

    pub fn position(&self) -> Position {
        *self.applied.borrow()
    }

    /// Waits until every event up to `position` is applied, at most `timeout`.
    /// Returns whether it got there.
    pub async fn wait_for(&self, position: Position, timeout: Duration) -> bool {
        let mut applied = self.applied.clone();
        tokio::time::timeout(timeout, applied.wait_for(|p| *p >= position))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// Starts following the log into `model`. The task runs until the runtime
/// stops; store errors are logged and the subscription is reopened.
pub fn follow<M: Apply>(
    store: Arc<dyn EventStore>,
    model: Arc<M>,
    name: &'static str,
) -> (Progress, JoinHandle<()>) {
    let (tx, rx) = watch::channel(0);
    let task = tokio::spawn(async move {
        let mut next = 1;
        loop {
            let mut subscription = store.subscribe_all(next, EventFilter::default());
            loop {
                match subscription.next().await {
                    Ok(event) => {
                        model.apply(&event);
                        next = event.position + 1;
                        tx.send_replace(event.position);
                    }
                    Err(e) => {
                        tracing::warn!(projection = name, error = %e, "reading the log failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        break;
                    }
                }
            }
        }
    });
    (Progress { applied: rx }, task)
}
