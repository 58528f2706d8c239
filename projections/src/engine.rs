//! Persistent projections: each applies batches of events to its tables in
//! one transaction that also advances its checkpoint, so a crash at any point
//! neither loses nor double-counts an event. The runner catches up from the
//! checkpoint, then follows new events as they commit.

use std::sync::Arc;
use std::time::Duration;

use agentledger_store::{
    Database, EventFilter, EventStore, Position, RecordedEvent, StoreError, on_database,
};
use async_trait::async_trait;
use tokio::sync::watch;

use crate::follower::Progress;

/// Events per transaction.
pub const BATCH: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("read model database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("no projection named `{0}`")]
    Unknown(String),
}

/// Applies events to a read model on one backend's connection, inside the
/// runner's transaction. Implement it for both backends with `sql_projection!`.
#[async_trait]
pub trait Apply<Connection: Send>: Send + Sync {
    async fn apply(
        &self,
        conn: &mut Connection,
        events: &[RecordedEvent],
    ) -> Result<(), sqlx::Error>;
}

pub trait Projection:
    Apply<sqlx::SqliteConnection> + Apply<sqlx::PgConnection> + Send + Sync + 'static
{
    fn name(&self) -> &'static str;
    /// The tables it owns: emptied by a rebuild.
    fn tables(&self) -> &'static [&'static str];
}

/// Implements `Apply` for both backends from one body, written with SQL that
/// both accept (`$n` placeholders in order of first use).
#[macro_export]
macro_rules! sql_projection {
    ($ty:ty, |$this:ident, $conn:ident, $events:ident| $body:block) => {
        #[async_trait::async_trait]
        impl $crate::engine::Apply<sqlx::SqliteConnection> for $ty {
            async fn apply(
                &self,
                $conn: &mut sqlx::SqliteConnection,
                $events: &[agentledger_store::RecordedEvent],
            ) -> Result<(), sqlx::Error> {
                let $this = self;
                $body
            }
        }
        #[async_trait::async_trait]
        impl $crate::engine::Apply<sqlx::PgConnection> for $ty {
            async fn apply(
                &self,
                $conn: &mut sqlx::PgConnection,
                $events: &[agentledger_store::RecordedEvent],
            ) -> Result<(), sqlx::Error> {
                let $this = self;
                $body
            }
        }
    };
}

/// Every persistent projection, by name.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(crate::operation_log::OperationLog),
        Arc::new(crate::dashboard::Dashboard),
        Arc::new(crate::run_log::RunLog),
    ]
}

pub async fn checkpoint(db: &Database, name: &str) -> Result<Position, ProjectionError> {
    let position: Option<i64> = on_database!(db, p => sqlx::query_scalar(
        "SELECT position FROM projection_checkpoints WHERE name = $1"
    )
    .bind(name)
    .fetch_optional(p)
    .await?);
    Ok(position.unwrap_or(0).max(0) as Position)
}

/// Applies `events` and moves the checkpoint to the last of them, atomically.
pub async fn apply_batch(
    db: &Database,
    projection: &dyn Projection,
    events: &[RecordedEvent],
) -> Result<(), ProjectionError> {
    let Some(last) = events.last() else {
        return Ok(());
    };
    on_database!(db, p => {
        let mut tx = p.begin().await?;
        Apply::apply(projection, &mut *tx, events).await?;
        sqlx::query(
            "INSERT INTO projection_checkpoints (name, position) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET position = excluded.position",
        )
        .bind(projection.name())
        .bind(last.position as i64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    });
    Ok(())
}

/// Empties the projection's tables and its checkpoint, in one transaction.
pub async fn reset(db: &Database, projection: &dyn Projection) -> Result<(), ProjectionError> {
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

/// Applies the log from the checkpoint up to the head as it is now. `done`
/// is told the position after every batch. Returns the events applied.
pub async fn catch_up(
    store: &dyn EventStore,
    db: &Database,
    projection: &dyn Projection,
    mut done: impl FnMut(Position),
) -> Result<u64, ProjectionError> {
    let head = store.head_position().await?;
    let mut from = checkpoint(db, projection.name()).await? + 1;
    let mut applied = 0;
    while from <= head {
        let events = store.read_all(from, BATCH, &EventFilter::default()).await?;
        let Some(last) = events.last().map(|e| e.position) else {
            break;
        };
        apply_batch(db, projection, &events).await?;
        applied += events.len() as u64;
        from = last + 1;
        done(last);
    }
    Ok(applied)
}

/// Keeps the projection up to date until the runtime stops. Errors are logged
/// and the runner starts again from the stored checkpoint.
pub fn spawn(
    store: Arc<dyn EventStore>,
    db: Database,
    projection: Arc<dyn Projection>,
) -> Progress {
    let (tx, rx) = watch::channel(0);
    tokio::spawn(async move {
        loop {
            if let Err(e) = follow(&*store, &db, &*projection, &tx).await {
                tracing::warn!(projection = projection.name(), error = %e, "projection stopped; restarting");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    });
    Progress::new(rx)
}

async fn follow(
    store: &dyn EventStore,
    db: &Database,
    projection: &dyn Projection,
    progress: &watch::Sender<Position>,
) -> Result<(), ProjectionError> {
    let start = checkpoint(db, projection.name()).await?;
    progress.send_replace(start);
    let mut subscription = store.subscribe_all(start + 1, EventFilter::default());
    loop {
        let first = subscription.next().await?;
        let mut batch = vec![first];
        batch.extend(subscription.next_batch(BATCH - 1).await?);
        apply_batch(db, projection, &batch).await?;
        if let Some(last) = batch.last() {
            progress.send_replace(last.position);
        }
    }
}
