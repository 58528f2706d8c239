//! Checkpoints and the transactions that apply events: `checkpoint`,
//! `apply_batch` (with the checkpoint), `apply_events` (without) and `reset`.

use agentledger_store::{Database, Position, RecordedEvent, on_database};

use super::projection::{Apply, Projection, ProjectionError};

pub async fn checkpoint(db: &Database, name: &str) -> Result<Position, ProjectionError> {
    let position: Option<i64> = on_database!(db, p => sqlx::query_scalar(
        "SELECT position FROM projection_checkpoints WHERE name = $1"
    )
    .bind(name)
    .fetch_optional(p)
    .await?);
    Ok(position.unwrap_or(0).max(0) as Position)
}

/// What a batch did: the events applied (those past the checkpoint) and the
/// checkpoint it ended at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub events: usize,
    pub checkpoint: Position,
}

/// Applies to each model the events past its checkpoint and moves the
/// checkpoint to the last of them, all in one transaction: one write turn on
/// SQLite for every model, instead of one each. Each checkpoint row is locked
/// first, so two appliers (a server and a `rebuild`, or two servers) take
/// turns and never apply an event twice. A batch that starts past a model's
/// checkpoint was read before a reset: nothing is applied, and `Behind` tells
/// the caller to read again from that checkpoint. Returns what each model
/// applied, in the order of `projections`.
pub async fn apply_batch(
    db: &Database,
    projections: &[&dyn Projection],
    events: &[RecordedEvent],
) -> Result<Vec<Applied>, ProjectionError> {
    let _turn = db.write_turn().await;
    on_database!(db, p => {
        let mut tx = p.begin().await?;
        if matches!(db, Database::Postgres(_)) {
            // As on SQLite, a model's commit need not wait for its flush: a
            // crash can lose only whole batches with their checkpoints.
            sqlx::query("SET LOCAL synchronous_commit TO OFF").execute(&mut *tx).await?;
        }
        let mut applied = Vec::with_capacity(projections.len());
        for projection in projections {
            // An upsert, not a SELECT: it takes the write lock on SQLite and
            // the row lock on PostgreSQL before anything is read.
            let checkpoint: i64 = sqlx::query_scalar(
                "INSERT INTO projection_checkpoints (name, position) VALUES ($1, 0) \
                 ON CONFLICT (name) DO UPDATE SET position = projection_checkpoints.position \
                 RETURNING position",
            )
            .bind(projection.name())
            .fetch_one(&mut *tx)
            .await?;
            let checkpoint = checkpoint.max(0) as Position;
            let fresh = &events[events.partition_point(|e| e.position <= checkpoint)..];
            let Some(last) = fresh.last().map(|e| e.position) else {
                applied.push(Applied { events: 0, checkpoint });
                continue;
            };
            if fresh[0].position != checkpoint + 1 {
                return Err(ProjectionError::Behind { checkpoint });
            }
            Apply::apply(*projection, &mut *tx, fresh).await?;
            sqlx::query("UPDATE projection_checkpoints SET position = $1 WHERE name = $2")
                .bind(last as i64)
                .bind(projection.name())
                .execute(&mut *tx)
                .await?;
            applied.push(Applied { events: fresh.len(), checkpoint: last });
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
        Apply::apply(projection, &mut *tx, events).await?;
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
