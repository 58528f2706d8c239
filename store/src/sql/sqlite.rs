//! The embedded default: one SQLite file in WAL mode. The log is written by
//! a thread of its own (`sqlite_writer`); it and what commands remember are
//! written with `synchronous=FULL`, so a commit is on disk when it returns. Read models are written through a pool of their own
//! with `synchronous=NORMAL`: their commits are not flushed one by one, and
//! the next flush of the log (the WAL is one sequence) carries them. A crash
//! can only lose a model's latest batches together with their checkpoint,
//! which the model then applies again.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::database::{Database, WriteGate};
use crate::error::StoreError;
use crate::event::{EventFilter, Position};
use crate::sql::backend::Backend;
use crate::sql::engine::BeforeCommit;
use crate::sql::plan::{Pending, Plan};
use crate::sql::row::EventRow;
use crate::sql::sqlite_reader::LogReaders;
use crate::sql::sqlite_writer::LogWriter;

pub(crate) struct SqliteBackend {
    pub(crate) pool: SqlitePool,
    /// Read models' writes: no flush per commit.
    pub(crate) models: SqlitePool,
    pub(crate) gate: WriteGate,
    /// `None` for a database of read models only.
    log: Option<SqliteLog>,
}

/// The log's own connections: its writer thread and its readers.
struct SqliteLog {
    writer: LogWriter,
    readers: Arc<LogReaders>,
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
        let options = SqliteConnectOptions::from_str(&url)?;
        if options
            .get_filename()
            .to_string_lossy()
            .starts_with("file:sqlx-in-memory")
        {
            return Err(StoreError::UnsupportedUrl(format!(
                "{url} (the log needs a file: its writer has a connection of its own)"
            )));
        }
        let options = options
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
            .connect_with(options.clone().synchronous(SqliteSynchronous::Normal))
            .await?;
        let log = SqliteLog {
            writer: LogWriter::start(options.get_filename())?,
            readers: LogReaders::new(options.get_filename()),
        };
        Ok(Self {
            pool,
            models,
            gate: WriteGate::default(),
            log: Some(log),
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
            log: None,
        })
    }

    fn log(&self) -> Result<&SqliteLog, StoreError> {
        self.log.as_ref().ok_or_else(|| {
            StoreError::InvalidAppend("this SQLite database holds read models only".into())
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
    async fn write(
        &self,
        group: Arc<[Pending]>,
        before_commit: Option<BeforeCommit>,
    ) -> Result<Plan, StoreError> {
        let log = self.log()?;
        let turn = self.gate.enter().await;
        log.writer.write(group, before_commit, turn).await
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: i64,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        let log = self.log()?;
        log.readers
            .read_stream(stream_id, from_version, limit)
            .await
    }

    async fn read_all(
        &self,
        from_position: i64,
        limit: i64,
        filter: &EventFilter,
    ) -> Result<Vec<EventRow>, StoreError> {
        let log = self.log()?;
        log.readers.read_all(from_position, limit, filter).await
    }

    async fn head_position(&self) -> Result<Position, StoreError> {
        self.log()?.readers.head_position().await
    }
}
