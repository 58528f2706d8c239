//! Runs an in-memory projection: follows the log from the start, applies each
//! event, and publishes how far it got so callers can wait for their writes.

use std::sync::Arc;
use std::time::Duration;

use agentledger_domain::codec::CodecError;
use agentledger_store::{EventFilter, EventStore, Position, RecordedEvent};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub trait Apply: Send + Sync + 'static {
    /// Fails only for an event of a type the model applies whose payload
    /// does not decode; the follower then stops before it.
    fn apply(&self, event: &RecordedEvent) -> Result<(), CodecError>;
}

/// Why a model stopped: it cannot apply the events after `after`, and will
/// not pass over them. It retries every second; an operator repairs it as
/// the README says (a fixed build, then `agentledger rebuild`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stall {
    pub after: Position,
    pub error: String,
}

/// Where a model's runner tells how far it got and whether it is stuck.
pub struct Reporter {
    applied: watch::Sender<Position>,
    stall: watch::Sender<Option<Stall>>,
}

impl Reporter {
    pub fn new() -> (Self, Progress) {
        let (applied, applied_rx) = watch::channel(0);
        let (stall, stall_rx) = watch::channel(None);
        (
            Self { applied, stall },
            Progress {
                applied: applied_rx,
                stall: stall_rx,
            },
        )
    }

    pub fn position(&self) -> Position {
        *self.applied.borrow()
    }

    /// Where the model stands after a restart, stuck or not.
    pub fn moved_to(&self, position: Position) {
        self.applied.send_replace(position);
    }

    /// The model applied the log up to `position`: it is not stuck.
    pub fn applied(&self, position: Position) {
        self.applied.send_replace(position);
        self.stall.send_if_modified(|stall| stall.take().is_some());
    }

    /// The model cannot apply what follows its position.
    pub fn stalled(&self, error: String) {
        let stall = Stall {
            after: self.position(),
            error,
        };
        self.stall.send_if_modified(|now| {
            (now.as_ref() != Some(&stall))
                .then(|| *now = Some(stall))
                .is_some()
        });
    }
}

/// The position a projection has applied, and a way to wait for it.
#[derive(Clone)]
pub struct Progress {
    applied: watch::Receiver<Position>,
    stall: watch::Receiver<Option<Stall>>,
}

impl Progress {
    /// A progress that stays at 0.
    pub fn never() -> Self {
        // With its reporter gone, a wait fails at once instead of hanging.
        Reporter::new().1
    }

    pub fn position(&self) -> Position {
        *self.applied.borrow()
    }

    /// Why the model is stuck, if it is.
    pub fn stall(&self) -> Option<Stall> {
        self.stall.borrow().clone()
    }

    /// Changes of the stall, for whoever raises the alarm.
    pub fn stall_changes(&self) -> watch::Receiver<Option<Stall>> {
        self.stall.clone()
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
    let (reporter, progress) = Reporter::new();
    let task = tokio::spawn(async move {
        let mut next = 1;
        loop {
            let mut subscription = store.subscribe_all(next, EventFilter::default());
            loop {
                match subscription.next().await {
                    Ok(event) => {
                        if let Err(e) = model.apply(&event) {
                            // Never passed over: the model stays before this
                            // event, and requests waiting for it answer 503.
                            tracing::error!(projection = name, position = event.position, error = %e, "an event cannot be applied; the model stops before it");
                            reporter.stalled(format!("event {}: {e}", event.position));
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            break;
                        }
                        next = event.position + 1;
                        reporter.applied(event.position);
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
    (progress, task)
}
