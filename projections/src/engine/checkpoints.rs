//! Checkpoints and the transactions that apply events: `checkpoint`,
//! `apply_batch` (with the checkpoint), `apply_events` (without) and `reset`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use agentledger_store::{Database, Position, RecordedEvent, on_database};
use sqlx::QueryBuilder;

use super::projection::{Apply, Decoded, Projection, ProjectionError};

pub async fn checkpoint(db: &Database, name: &str) -> Result<Position, ProjectionError> {
    let position: Option<i64> = on_database!(db, p => sqlx::query_scalar(
        "SELECT position FROM projection_checkpoints WHERE name = $1"
    )
    .bind(name)
    .fetch_optional(p)
    .await?);
    Ok(position.unwrap_or(0).max(0) as Position)
}

/// What a batch did: the events applied (those past the checkpoint), the
/// checkpoint it ended at, and the time the model took to apply them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub events: usize,
    pub checkpoint: Position,
    pub took: Duration,
}

/// Applies to each model the events past its checkpoint and moves the
/// checkpoint to the last of them, all in one transaction: one write turn on
/// SQLite for every model, instead of one each. The checkpoint rows are
/// locked first, in one statement, so two appliers (a server and a
/// `rebuild`, or two servers) take turns and never apply an event twice; and
/// they move in one statement at the end. A batch that starts past a model's
/// checkpoint was read before a reset: nothing is applied, and `Behind`
/// tells the caller to read again from that checkpoint. Returns what each
/// model applied, in the order of `projections`.
pub async fn apply_batch(
    db: &Database,
    projections: &[&dyn Projection],
    events: &[RecordedEvent],
) -> Result<Vec<Applied>, ProjectionError> {
    if projections.is_empty() {
        return Ok(Vec::new());
    }
    let _turn = db.write_turn().await;
    on_database!(db, p => {
        let mut tx = p.begin().await?;
        if matches!(db, Database::Postgres(_)) {
            // As on SQLite, a model's commit need not wait for its flush: a
            // crash can lose only whole batches with their checkpoints.
            sqlx::query("SET LOCAL synchronous_commit TO OFF").execute(&mut *tx).await?;
        }
        // An upsert, not a SELECT: it takes the write lock on SQLite and
        // the row locks on PostgreSQL before anything is read.
        let mut lock = QueryBuilder::new("INSERT INTO projection_checkpoints (name, position) ");
        lock.push_values(projections, |mut row, projection| {
            row.push_bind(projection.name()).push("0");
        });
        lock.push(
            " ON CONFLICT (name) DO UPDATE SET position = projection_checkpoints.position \
             RETURNING name, position",
        );
        let found: Vec<(String, i64)> = lock.build_query_as().fetch_all(&mut *tx).await?;
        let checkpoints: HashMap<String, i64> = found.into_iter().collect();
        let events = Decoded::all(events);
        let mut applied = Vec::with_capacity(projections.len());
        for projection in projections {
            let checkpoint = checkpoints.get(projection.name()).copied().unwrap_or(0).max(0) as Position;
            let fresh = &events[events.partition_point(|e| e.position <= checkpoint)..];
            let Some(last) = fresh.last().map(|e| e.position) else {
                applied.push(Applied { events: 0, checkpoint, took: Duration::ZERO });
                continue;
            };
            if fresh[0].position != checkpoint + 1 {
                return Err(ProjectionError::Behind { checkpoint });
            }
            let started = Instant::now();
            Apply::apply(*projection, &mut *tx, fresh).await?;
            applied.push(Applied { events: fresh.len(), checkpoint: last, took: started.elapsed() });
        }
        let moved: Vec<_> = projections
            .iter()
            .zip(&applied)
            .filter(|(_, applied)| applied.events > 0)
            .collect();
        if !moved.is_empty() {
            let mut update = QueryBuilder::new("INSERT INTO projection_checkpoints (name, position) ");
            update.push_values(moved, |mut row, (projection, applied)| {
                row.push_bind(projection.name()).push_bind(applied.checkpoint as i64);
            });
            update.push(" ON CONFLICT (name) DO UPDATE SET position = excluded.position");
            update.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(applied)
    })
}

/// Applies `events` in one transaction without a checkpoint: for scratch
/// models that are built once and thrown away (the events need not be
/// contiguous, so one tenant's events are enough for a model keyed by tenant).
pub async fn apply_events(
    db: &Database,
    projection: &dyn Projection,
    events: &[RecordedEvent],
) -> Result<(), ProjectionError> {
    let _turn = db.write_turn().await;
    on_database!(db, p => {
        let mut tx = p.begin().await?;
        Apply::apply(projection, &mut *tx, &Decoded::all(events)).await?;
        tx.commit().await?;
    });
    Ok(())
}

/// Empties the projection's tables and its checkpoint, in one transaction.
pub async fn reset(db: &Database, projection: &dyn Projection) -> Result<(), ProjectionError> {
    let _turn = db.write_turn().await;
    on_database!(db, p => {
        let mut tx = p.begin().await?;
        for table in projection.tables() {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}"))).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM projection_checkpoints WHERE name = $1")
            .bind(projection.name())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    });
    Ok(())
}
