//! The live runner: `spawn` keeps models up to date together, following the
//! log as it commits, with its batch size, linger and `Observer`.

use std::sync::Arc;
use std::time::Duration;

use agentledger_store::{Database, EventFilter, EventStore, Position};

use super::checkpoints::{apply_batch, checkpoint};
use super::projection::{Projection, ProjectionError};
use crate::follower::{Progress, Reporter};

/// Events per transaction.
pub const BATCH: usize = 1000;

/// How long a live runner lets events gather after the first one arrives.
/// Under load, several events then share one transaction instead of each
/// taking a write turn of its own (on SQLite every write turn is one the
/// log's committer waits for); when the log is quiet it adds this to the lag.
pub const LINGER: Duration = Duration::from_millis(5);

/// Told after every batch: the projection's name and the events it applied.
pub type Observer = Arc<dyn Fn(&'static str, usize) + Send + Sync>;

/// A model a runner keeps up to date, and where it tells how far it got.
struct Member {
    projection: Arc<dyn Projection>,
    progress: Reporter,
}

/// Keeps `projections` up to date, together: one subscription to the log and
/// one transaction per batch for all of them. A model whose batch fails
/// leaves the group and goes on alone, retrying from its checkpoint, so it
/// holds back only itself. Aborting the handle stops every runner, those of
/// the models that left included.
pub fn spawn(
    store: Arc<dyn EventStore>,
    db: Database,
    projections: Vec<Arc<dyn Projection>>,
    observer: Observer,
) -> (Vec<(&'static str, Progress)>, tokio::task::JoinHandle<()>) {
    let mut progresses = Vec::with_capacity(projections.len());
    let members = projections
        .into_iter()
        .map(|projection| {
            let (reporter, progress) = Reporter::new();
            progresses.push((projection.name(), progress));
            Member {
                projection,
                progress: reporter,
            }
        })
        .collect();
    let runner = tokio::spawn(run(store, db, members, observer));
    (progresses, runner)
}

fn run(
    store: Arc<dyn EventStore>,
    db: Database,
    mut members: Vec<Member>,
    observer: Observer,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        // The runners of models that left the group belong to it: dropping
        // this future (an abort) aborts them too.
        let mut left = tokio::task::JoinSet::new();
        // A group whose every model has left it has nothing more to follow.
        while !members.is_empty() {
            match follow(&*store, &db, &mut members, &observer).await {
                Ok(failed) => {
                    for member in failed {
                        let (store, db) = (store.clone(), db.clone());
                        left.spawn(run(store, db, vec![member], observer.clone()));
                    }
                }
                Err(ProjectionError::Behind { checkpoint }) => {
                    tracing::info!(
                        checkpoint,
                        "a read model was reset; following from its checkpoint"
                    );
                }
                Err(e) => {
                    let names: Vec<_> = members.iter().map(|m| m.projection.name()).collect();
                    if let [member] = members.as_slice() {
                        // A model alone that fails again is stuck: it never
                        // passes over what it cannot apply, so say so loudly.
                        tracing::error!(projection = names[0], after = member.progress.position(), error = %e, "read model stopped: it cannot apply the events after its position; retrying every second");
                        member.progress.stalled(e.to_string());
                    } else {
                        tracing::warn!(projections = ?names, error = %e, "projections stopped; restarting");
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        while left.join_next().await.is_some() {}
    })
}

/// Follows the log from the lowest checkpoint of `members`. Returns the
/// members that failed on their own (taken out of `members`) when a group's
/// batch failed, or the error that stopped the whole group.
async fn follow(
    store: &dyn EventStore,
    db: &Database,
    members: &mut Vec<Member>,
    observer: &Observer,
) -> Result<Vec<Member>, ProjectionError> {
    let mut start = Position::MAX;
    for member in members.iter() {
        let at = checkpoint(db, member.projection.name()).await?;
        // Not `applied`: a stuck model reopening stays stuck until it applies.
        member.progress.moved_to(at);
        start = start.min(at);
    }
    let mut subscription = store.subscribe_all(start + 1, EventFilter::default());
    loop {
        let first = subscription.next().await?;
        let mut batch = vec![first];
        batch.extend(subscription.next_batch(BATCH - 1).await?);
        // Linger only for a batch that is not full: catching up goes on at once.
        if batch.len() < BATCH {
            tokio::time::sleep(LINGER).await;
            batch.extend(subscription.next_batch(BATCH - batch.len()).await?);
        }
        let projections: Vec<&dyn Projection> = members.iter().map(|m| &*m.projection).collect();
        let error = match apply_batch(db, &projections, &batch).await {
            Ok(applied) => {
                for (member, applied) in members.iter().zip(applied) {
                    observer(member.projection.name(), applied.events);
                    member.progress.applied(applied.checkpoint);
                }
                continue;
            }
            Err(e @ ProjectionError::Behind { .. }) => return Err(e),
            Err(e) if members.len() == 1 => return Err(e),
            Err(e) => e,
        };
        // Find the models that fail: each applies the batch on its own.
        let mut failed = Vec::new();
        for member in std::mem::take(members) {
            let name = member.projection.name();
            match apply_batch(db, &[&*member.projection], &batch).await {
                Ok(applied) => {
                    for applied in applied {
                        observer(name, applied.events);
                        member.progress.applied(applied.checkpoint);
                    }
                    members.push(member);
                }
                Err(ProjectionError::Behind { .. }) => members.push(member),
                Err(e) => {
                    tracing::error!(projection = name, error = %e, "read model failed on a batch; it goes on alone, retrying");
                    member.progress.stalled(e.to_string());
                    failed.push(member);
                }
            }
        }
        if failed.is_empty() {
            return Err(error);
        }
        return Ok(failed);
    }
}
