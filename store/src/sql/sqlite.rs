//! The embedded default: one SQLite file in WAL mode. The log (and what
//! commands remember) is written with `synchronous=FULL`, so a commit is on
//! disk when it returns. Read models are written through a pool of their own
//! with `synchronous=NORMAL`: their commits are not flushed one by one, and
//! the next flush of the log (the WAL is one sequence) carries them. A crash
//! can only lose a model's latest batches together with their checkpoint,
//! which the model then applies again.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqlitePool, Transaction};
use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

use crate::database::{Database, WriteGate};
use crate::error::StoreError;
use crate::event::{EventFilter, Position};
use crate::sql::backend::Backend;
use crate::sql::filter::push_filter;
use crate::sql::plan::{Head, read_head};
use crate::sql::row::{EVENT_COLUMNS, EventRow, Placement, StreamHead};

/// Rows per INSERT, well under SQLite's 32766 bound parameters.
const INSERT_CHUNK: usize = 1000;
/// Values per `IN (...)` list.
const LOOKUP_CHUNK: usize = 1000;

pub(crate) struct SqliteBackend {
    pub(crate) pool: SqlitePool,
    /// Read models' writes: no flush per commit.
    pub(crate) models: SqlitePool,
    pub(crate) gate: WriteGate,
}

/// A transaction on the log, holding this process's turn to write.
pub(crate) struct SqliteTx {
    tx: Transaction<'static, Sqlite>,
    _turn: OwnedMutexGuard<()>,
}

impl SqliteBackend {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or a
    /// plain path) and applies the migrations.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let url = if url.starts_with("sqlite:") {
            url.to_owned()
        } else {
            format!("sqlite://{url}")
        };
        let options = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(options.clone())
            .await?;
        super::migrations::sqlite().run(&pool).await?;
        let models = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(options.synchronous(SqliteSynchronous::Normal))
            .await?;
        Ok(Self {
            pool,
            models,
            gate: WriteGate::default(),
        })
    }

    /// A migrated database in memory. One connection that never closes: each
    /// connection to `:memory:` is a database of its own.
    pub async fn in_memory() -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?;
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        super::migrations::sqlite().run(&pool).await?;
        Ok(Self {
            models: pool.clone(),
            pool,
            gate: WriteGate::default(),
        })
    }

    /// Read models' tables, written through the pool that does not flush each commit.
    pub(crate) fn models(&self) -> Database {
        Database::Sqlite(self.models.clone(), self.gate.clone())
    }

    /// Idempotency keys and the like: flushed like the log.
    pub(crate) fn durable(&self) -> Database {
        Database::Sqlite(self.pool.clone(), self.gate.clone())
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    type Tx = SqliteTx;

    async fn begin(&self) -> Result<(Self::Tx, Head), StoreError> {
        // IMMEDIATE takes the write lock now, so the head read below cannot go
        // stale before our writes (another process may share the file).
        let turn = self.gate.enter().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let head: (i64, Vec<u8>, Option<chrono::DateTime<chrono::Utc>>) =
            sqlx::query_as(read_head!()).fetch_one(&mut *tx).await?;
        Ok((SqliteTx { tx, _turn: turn }, head.into()))
    }

    async fn placements(
        &self,
        tx: &mut Self::Tx,
        ids: &[Uuid],
    ) -> Result<Vec<Placement>, StoreError> {
        let mut found = Vec::new();
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT event_id, stream_id, stream_version, position FROM events WHERE event_id IN (",
            );
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            q.push(")");
            found.extend(
                q.build_query_as::<Placement>()
                    .fetch_all(&mut *tx.tx)
                    .await?,
            );
        }
        Ok(found)
    }

    async fn stream_heads(
        &self,
        tx: &mut Self::Tx,
        streams: &[&str],
    ) -> Result<Vec<StreamHead>, StoreError> {
        let mut found = Vec::new();
        for chunk in streams.chunks(LOOKUP_CHUNK) {
            // One `MAX` per stream: SQLite answers each from the end of the
            // (stream_id, stream_version) index, where a `GROUP BY` over the
            // list would read every event of every stream named.
            let mut q = QueryBuilder::<Sqlite>::new("WITH named(stream_id) AS (");
            q.push_values(chunk, |mut row, stream| {
                row.push_bind(stream.to_string());
            });
            q.push(
                ") SELECT stream_id, version FROM (SELECT stream_id, \
                 (SELECT MAX(stream_version) FROM events WHERE events.stream_id = named.stream_id) AS version \
                 FROM named) WHERE version IS NOT NULL",
            );
            found.extend(
                q.build_query_as::<StreamHead>()
                    .fetch_all(&mut *tx.tx)
                    .await?,
            );
        }
        Ok(found)
    }

    async fn insert(&self, tx: &mut Self::Tx, rows: &[EventRow]) -> Result<(), StoreError> {
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO events (");
            q.push(EVENT_COLUMNS).push(") ");
            q.push_values(chunk, |mut b, row| {
                b.push_bind(row.position)
                    .push_bind(row.event_id)
                    .push_bind(row.stream_id.clone())
                    .push_bind(row.stream_version)
                    .push_bind(row.event_type.clone())
                    .push_bind(row.schema_version)
                    .push_bind(row.tenant_id)
                    .push_bind(row.occurred_at)
                    .push_bind(row.recorded_at)
                    .push_bind(row.actor_kind.clone())
                    .push_bind(row.actor_id.clone())
                    .push_bind(row.correlation_id)
                    .push_bind(row.causation_id)
                    .push_bind(row.payload.clone())
                    .push_bind(row.hash.clone());
            });
            q.build().execute(&mut *tx.tx).await?;
        }
        Ok(())
    }

    async fn commit(&self, mut tx: Self::Tx, head: &Head) -> Result<(), StoreError> {
        sqlx::query("UPDATE log_head SET position = ?, hash = ? WHERE id = 1")
            .bind(head.position)
            .bind(head.hash.clone())
            .execute(&mut *tx.tx)
            .await?;
        tx.tx.commit().await?;
        Ok(())
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: i64,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT ");
        q.push(EVENT_COLUMNS)
            .push(" FROM events WHERE stream_id = ")
            .push_bind(stream_id.to_owned())
            .push(" AND stream_version >= ")
            .push_bind(from_version)
            .push(" ORDER BY stream_version LIMIT ")
            .push_bind(limit);
        Ok(q.build_query_as().fetch_all(&self.pool).await?)
    }

    async fn read_all(
        &self,
        from_position: i64,
        limit: i64,
        filter: &EventFilter,
    ) -> Result<Vec<EventRow>, StoreError> {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT ");
        q.push(EVENT_COLUMNS)
            .push(" FROM events WHERE position >= ")
            .push_bind(from_position);
        push_filter(&mut q, filter);
        q.push(" ORDER BY position LIMIT ").push_bind(limit);
        Ok(q.build_query_as().fetch_all(&self.pool).await?)
    }

    async fn head_position(&self) -> Result<Position, StoreError> {
        let position: i64 = sqlx::query_scalar("SELECT position FROM log_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(position as Position)
    }
}
