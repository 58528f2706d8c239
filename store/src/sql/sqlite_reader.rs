//! Reading the SQLite log without a hand-off per row: each query runs whole
//! on a blocking thread, on a connection kept for the next one, and its rows
//! come back together. (sqlx hands every row from its worker thread to the
//! async side on its own; reading a batch of thousands of events for a
//! rebuild was mostly that.)

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OpenFlags, Row, params_from_iter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::error::StoreError;
use crate::event::{EventFilter, Position};
use crate::sql::filter::{Param, clauses};
use crate::sql::row::{EventRow, event_columns};
use crate::sql::sqlite_writer::{keep_plans, time_from_text, time_text};

/// The reads that run at once, each on a connection kept for the process's
/// life; more wait for a turn. A connection's first statement parses the
/// whole schema (every read model's table and index): opening one for a
/// read beyond those kept, and closing it after, cost a third of the
/// server's CPU under ingest with 64 connections.
const CONNECTIONS: usize = 8;

/// The rows of a stream read on the caller's own thread, at most: tens of
/// microseconds, which an async worker may spend; a longer read would hold
/// up the other requests it serves.
const INLINE_ROWS: i64 = 32;

pub(crate) struct LogReaders {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    turns: Arc<Semaphore>,
}

impl LogReaders {
    pub(crate) fn new(path: &Path) -> Arc<Self> {
        Arc::new(Self {
            path: path.to_owned(),
            idle: Mutex::new(Vec::with_capacity(CONNECTIONS)),
            turns: Arc::new(Semaphore::new(CONNECTIONS)),
        })
    }

    pub(crate) async fn read_all(
        self: &Arc<Self>,
        from_position: i64,
        limit: i64,
        filter: &EventFilter,
    ) -> Result<Vec<EventRow>, StoreError> {
        let filter = filter.clone();
        self.run(move |connection| {
            let mut sql = String::from(concat!(
                "SELECT ",
                event_columns!(),
                " FROM events WHERE position >= ?"
            ));
            let clauses = clauses(&filter);
            let mut values: Vec<Value> = vec![Value::Integer(from_position)];
            for clause in &clauses {
                let marks = vec!["?"; clause.values.len()].join(", ");
                sql.push_str(&format!(" AND {} {} ({marks})", clause.column, clause.op));
                values.extend(clause.values.iter().map(value));
            }
            sql.push_str(" ORDER BY position LIMIT ?");
            values.push(Value::Integer(limit));
            let mut statement = connection.prepare_cached(&sql)?;
            let rows = statement.query_map(params_from_iter(values), event_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// A stream's events from `from_version` on. Its first rows are read on
    /// the caller's thread when a kept connection is idle: a command's load reads
    /// its stream from the cached version on, nearly always no row or a few,
    /// and handing that read to a blocking thread (waking it, then the
    /// caller) cost more than the read. At most `INLINE_ROWS` are read so;
    /// the rest, if any, on a blocking thread as other reads.
    pub(crate) async fn read_stream(
        self: &Arc<Self>,
        stream_id: &str,
        from_version: i64,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        let mut rows = Vec::new();
        // Only on a connection already open: opening one parses the schema,
        // which is not for an async worker's thread.
        if let Ok(_turn) = self.turns.clone().try_acquire_owned()
            && let Some(connection) = self.take_idle()
        {
            let first = limit.min(INLINE_ROWS);
            let read = stream_rows(&connection, stream_id, from_version, first);
            self.keep(connection);
            rows = read?;
            if (rows.len() as i64) < first || first == limit {
                return Ok(rows);
            }
        }
        let from = rows
            .last()
            .map_or(from_version, |row| row.stream_version + 1);
        let rest = limit - rows.len() as i64;
        let stream_id = stream_id.to_owned();
        let more = self
            .run(move |connection| stream_rows(connection, &stream_id, from, rest))
            .await?;
        rows.extend(more);
        Ok(rows)
    }

    pub(crate) async fn head_position(self: &Arc<Self>) -> Result<Position, StoreError> {
        self.run(|connection| {
            let position: i64 = connection
                .prepare_cached("SELECT position FROM log_head WHERE id = 1")?
                .query_row([], |row| row.get(0))?;
            Ok(position.max(0) as Position)
        })
        .await
    }

    /// Runs `read` on a blocking thread once a turn is free.
    async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        read: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let turn = self
            .turns
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed)?;
        let readers = self.clone();
        tokio::task::spawn_blocking(move || readers.with_connection(turn, read))
            .await
            .map_err(|e| StoreError::Writer(format!("a read of the log stopped: {e}")))?
    }

    /// Runs `read`, in the turn `_turn`, on an idle connection or, until
    /// `CONNECTIONS` are open, a new one; then keeps the connection.
    fn with_connection<T>(
        &self,
        _turn: OwnedSemaphorePermit,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let connection = match self.take_idle() {
            Some(connection) => connection,
            None => open(&self.path)?,
        };
        let answer = read(&connection);
        self.keep(connection);
        answer
    }

    fn take_idle(&self) -> Option<Connection> {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    fn keep(&self, connection: Connection) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(connection);
    }
}

fn stream_rows(
    connection: &Connection,
    stream_id: &str,
    from_version: i64,
    limit: i64,
) -> Result<Vec<EventRow>, StoreError> {
    let mut statement = connection.prepare_cached(concat!(
        "SELECT ",
        event_columns!(),
        " FROM events WHERE stream_id = ?1 AND stream_version >= ?2 \
         ORDER BY stream_version LIMIT ?3"
    ))?;
    let rows = statement.query_map(rusqlite::params![stream_id, from_version, limit], event_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn open(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(Duration::from_secs(30))?;
    connection.set_prepared_statement_cache_capacity(32);
    keep_plans(&connection)?;
    Ok(connection)
}

/// A filter's value as SQLite binds it.
fn value(param: &Param<'_>) -> Value {
    match param {
        Param::Text(text) => Value::Text((*text).to_owned()),
        Param::Uuid(id) => Value::Blob(id.as_bytes().to_vec()),
        Param::Time(time) => Value::Text(time_text(time)),
        Param::Position(position) => Value::Integer(*position),
    }
}

/// An events row in `event_columns!` order, decoded as sqlx decodes it.
fn event_row(row: &Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        position: row.get(0)?,
        event_id: uuid(row, 1)?,
        stream_id: row.get(2)?,
        stream_version: row.get(3)?,
        event_type: row.get(4)?,
        schema_version: row.get(5)?,
        tenant_id: uuid(row, 6)?,
        occurred_at: time(row, 7)?,
        recorded_at: time(row, 8)?,
        actor_kind: row.get(9)?,
        actor_id: row.get(10)?,
        correlation_id: optional_uuid(row, 11)?,
        causation_id: optional_uuid(row, 12)?,
        payload: row.get(13)?,
        hash: row.get(14)?,
    })
}

fn conversion(
    index: usize,
    error: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Blob, Box::new(error))
}

fn uuid(row: &Row<'_>, index: usize) -> rusqlite::Result<Uuid> {
    let bytes = row.get_ref(index)?.as_blob()?;
    Uuid::from_slice(bytes).map_err(|e| conversion(index, e))
}

fn optional_uuid(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<Uuid>> {
    match row.get_ref(index)? {
        ValueRef::Null => Ok(None),
        value => Uuid::from_slice(value.as_blob()?)
            .map(Some)
            .map_err(|e| conversion(index, e)),
    }
}

fn time(row: &Row<'_>, index: usize) -> rusqlite::Result<DateTime<Utc>> {
    time_from_text(row.get_ref(index)?.as_str()?).map_err(|e| conversion(index, e))
}
