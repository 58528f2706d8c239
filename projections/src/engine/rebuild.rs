//! Applying the log up to a position: `catch_up`/`catch_up_to` for one model,
//! `build_all` for many at once reading the log once.

use std::sync::Arc;
use std::time::Duration;

use agentledger_store::{Database, EventFilter, EventStore, Position};

use super::checkpoints::{apply_batch, checkpoint};
use super::projection::{Projection, ProjectionError};
use super::runner::BATCH;

/// Applies the log from the checkpoint up to the head as it is now. `done`
/// is told the checkpoint after every batch. Returns the events applied.
pub async fn catch_up(
    store: &dyn EventStore,
    db: &Database,
    projection: &dyn Projection,
    done: impl FnMut(Position),
) -> Result<u64, ProjectionError> {
    let head = store.head_position().await?;
    catch_up_to(store, db, projection, head, done).await
}

/// Applies the log from the checkpoint up to `until` (inclusive). `db` need
/// not hold the log: `replay` builds models of one database's log in another.
pub async fn catch_up_to(
    store: &dyn EventStore,
    db: &Database,
    projection: &dyn Projection,
    until: Position,
    mut done: impl FnMut(Position),
) -> Result<u64, ProjectionError> {
    let mut from = checkpoint(db, projection.name()).await? + 1;
    let mut applied = 0;
    let up_to_until = EventFilter {
        to_position: Some(until),
        ..EventFilter::default()
    };
    while from <= until {
        let events = store.read_all(from, BATCH, &up_to_until).await?;
        if events.is_empty() {
            break;
        }
        let reached = match apply_batch(db, &[projection], &events).await {
            Ok(batch) => {
                let mut reached = from - 1;
                for model in batch {
                    applied += model.events as u64;
                    reached = model.checkpoint;
                }
                reached
            }
            Err(ProjectionError::Behind { checkpoint }) => checkpoint,
            Err(e) => return Err(e),
        };
        from = reached + 1;
        done(reached);
    }
    Ok(applied)
}

/// Events per transaction when models are built from scratch. Larger than a
/// live batch: projections fold a batch before writing it, so its cost grows
/// with the distinct rows it touches more than with its events.
pub const BUILD_BATCH: usize = 5000;

/// What building one model took: the events it applied and the time spent
/// applying them (reading the log is shared, and not counted here).
#[derive(Debug, Clone)]
pub struct Built {
    pub name: &'static str,
    pub events: u64,
    pub applying: Duration,
}

/// Applies the log up to `until` (inclusive) to every one of `projections`,
/// reading it once: each batch goes to every model in one transaction (with
/// their checkpoints), while the next batch is being read.
/// `done` is told the position reached after every batch.
pub async fn build_all(
    store: &dyn EventStore,
    db: &Database,
    projections: &[Arc<dyn Projection>],
    until: Position,
    mut done: impl FnMut(Position),
) -> Result<Vec<Built>, ProjectionError> {
    let read = |from: Position| async move {
        if from > until {
            return Ok(Vec::new());
        }
        let up_to_until = EventFilter {
            to_position: Some(until),
            ..EventFilter::default()
        };
        Ok::<_, ProjectionError>(store.read_all(from, BUILD_BATCH, &up_to_until).await?)
    };
    let mut built: Vec<Built> = projections
        .iter()
        .map(|p| Built {
            name: p.name(),
            events: 0,
            applying: Duration::ZERO,
        })
        .collect();
    let mut from = Position::MAX;
    for projection in projections {
        from = from.min(checkpoint(db, projection.name()).await? + 1);
    }
    let mut batch = read(from).await?;
    while let Some(last) = batch.last().map(|e| e.position) {
        let apply = async {
            let models: Vec<&dyn Projection> = projections.iter().map(|p| &**p).collect();
            for (applied, built) in apply_batch(db, &models, &batch)
                .await?
                .iter()
                .zip(&mut built)
            {
                built.events += applied.events as u64;
                built.applying += applied.took;
            }
            Ok::<_, ProjectionError>(())
        };
        let (next, applied) = tokio::join!(read(last + 1), apply);
        applied?;
        done(last);
        batch = next?;
    }
    Ok(built)
}
