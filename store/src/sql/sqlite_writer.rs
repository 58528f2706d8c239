//! The SQLite log's writer: one thread owns one connection and runs each
//! group commit on it from the first statement to the commit. sqlx would
//! hand every statement (and every row it returns) to a worker thread and
//! back; here a group costs one hand-off in and one answer out, and the
//! statements stay prepared for the connection's life.

use std::path::Path;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tokio::runtime::Handle;
use tokio::sync::{OwnedMutexGuard, oneshot};

use crate::error::StoreError;
use crate::event::now;
use crate::sql::engine::BeforeCommit;
use crate::sql::plan::{Head, Pending, Plan, plan, read_head};
use crate::sql::row::{EventRow, Placement, StreamHead, event_columns};

/// A group to write, with this process's write turn (released once the
/// group is committed) and where its plan goes.
struct Job {
    group: Arc<[Pending]>,
    before_commit: Option<BeforeCommit>,
    turn: OwnedMutexGuard<()>,
    answer: oneshot::Sender<Result<Plan, StoreError>>,
}

/// The handle to the writer thread; the thread ends when it is dropped.
pub(crate) struct LogWriter {
    jobs: mpsc::Sender<Job>,
}

impl LogWriter {
    /// Opens a connection to the database file at `path` (created and
    /// migrated already) and starts the thread that owns it.
    pub(crate) fn start(path: &Path) -> Result<Self, StoreError> {
        let connection = open(path)?;
        let runtime = Handle::current();
        let (jobs, receiver) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-log-writer".into())
            .spawn(move || run(connection, receiver, runtime))
            .map_err(|e| {
                StoreError::Writer(format!("cannot start the log's writer thread: {e}"))
            })?;
        Ok(Self { jobs })
    }

    /// Writes `group` in one durable transaction once `turn` is held.
    pub(crate) async fn write(
        &self,
        group: Arc<[Pending]>,
        before_commit: Option<BeforeCommit>,
        turn: OwnedMutexGuard<()>,
    ) -> Result<Plan, StoreError> {
        let (answer, planned) = oneshot::channel();
        let job = Job {
            group,
            before_commit,
            turn,
            answer,
        };
        self.jobs.send(job).map_err(|_| StoreError::Closed)?;
        planned.await.map_err(|_| StoreError::Closed)?
    }
}

fn open(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // As the pool's connections: every commit of the log is flushed, and a
    // writer meeting another process's lock waits for it.
    // (The file is in WAL mode already: the pool set it, and it stays.)
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.busy_timeout(Duration::from_secs(30))?;
    keep_plans(&connection)?;
    Ok(connection)
}

/// Turns on SQLite's query planner stability guarantee: a kept statement's
/// plan no longer depends on the values bound to it. Without it, a statement
/// whose plan looked at a bound value (a `LIMIT ?` does) is compiled again on
/// every run after a new binding, which a profile of ingest showed as 13%
/// of the server's CPU in the log's reads.
pub(crate) fn keep_plans(connection: &Connection) -> Result<(), StoreError> {
    connection.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}

fn run(mut connection: Connection, jobs: mpsc::Receiver<Job>, runtime: Handle) {
    while let Ok(job) = jobs.recv() {
        let Job {
            group,
            before_commit,
            turn,
            answer,
        } = job;
        let hook = before_commit
            .as_ref()
            .map(|hook| || runtime.block_on(hook()));
        let planned = write(&mut connection, &group, hook);
        // The next writer of this process may go while the caller is told.
        drop(turn);
        let _ = answer.send(planned);
    }
}

const READ_HEAD: &str = read_head!();
const PLACEMENT: &str =
    "SELECT stream_id, stream_version, position FROM events WHERE event_id = ?1";
const STREAM_HEAD: &str = "SELECT MAX(stream_version) FROM events WHERE stream_id = ?1";
const INSERT: &str = concat!(
    "INSERT INTO events (",
    event_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
);
const MOVE_HEAD: &str = "UPDATE log_head SET position = ?1, hash = ?2 WHERE id = 1";

/// One transaction for the whole group: the head, what its ids and streams
/// already hold, the plan, its rows and the new head. Nothing is written
/// when every append is refused or already stored.
fn write(
    connection: &mut Connection,
    group: &[Pending],
    before_commit: Option<impl FnOnce()>,
) -> Result<Plan, StoreError> {
    // IMMEDIATE takes the write lock now, so the head read below cannot go
    // stale before our writes (another process may share the file).
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let head = tx.prepare_cached(READ_HEAD)?.query_row([], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, Vec<u8>>(1)?,
            row.get::<_, Option<String>>(2)?,
        ))
    })?;
    let head = Head {
        position: head.0,
        hash: head.1,
        recorded_at: head
            .2
            .as_deref()
            .map(|t| parse_time(head.0, t))
            .transpose()?,
    };
    let mut placements = Vec::new();
    {
        let mut lookup = tx.prepare_cached(PLACEMENT)?;
        for event in group.iter().flat_map(|append| &append.events) {
            let found = lookup
                .query_row([event.event_id.as_bytes().as_slice()], |row| {
                    Ok(Placement {
                        event_id: event.event_id,
                        stream_id: row.get(0)?,
                        stream_version: row.get(1)?,
                        position: row.get(2)?,
                    })
                })
                .optional()?;
            placements.extend(found);
        }
    }
    let mut stream_heads = Vec::new();
    {
        let mut last = tx.prepare_cached(STREAM_HEAD)?;
        let mut asked = std::collections::HashSet::new();
        for append in group.iter().filter(|a| asked.insert(a.stream_id.as_str())) {
            let version: Option<i64> = last.query_row([&append.stream_id], |row| row.get(0))?;
            if let Some(version) = version {
                stream_heads.push(StreamHead {
                    stream_id: append.stream_id.clone(),
                    version,
                });
            }
        }
    }
    let appends: Vec<_> = group.iter().map(Pending::as_append).collect();
    let plan = plan(head, placements, stream_heads, &appends, now());
    if plan.rows.is_empty() {
        return Ok(plan);
    }
    {
        let mut insert = tx.prepare_cached(INSERT)?;
        for row in &plan.rows {
            insert_row(&mut insert, row)?;
        }
    }
    tx.prepare_cached(MOVE_HEAD)?
        .execute(params![plan.head.position, plan.head.hash])?;
    if let Some(hook) = before_commit {
        hook();
    }
    tx.commit()?;
    Ok(plan)
}

fn insert_row(
    insert: &mut rusqlite::CachedStatement<'_>,
    row: &EventRow,
) -> Result<(), StoreError> {
    insert.execute(params![
        row.position,
        row.event_id.as_bytes().as_slice(),
        row.stream_id,
        row.stream_version,
        row.event_type,
        row.schema_version,
        row.tenant_id.as_bytes().as_slice(),
        time_text(&row.occurred_at),
        time_text(&row.recorded_at),
        row.actor_kind,
        row.actor_id,
        row.correlation_id
            .as_ref()
            .map(|id| id.as_bytes().as_slice()),
        row.causation_id.as_ref().map(|id| id.as_bytes().as_slice()),
        row.payload,
        row.hash,
    ])?;
    Ok(())
}

/// A time as the log's TEXT columns hold it: RFC 3339 in UTC with as many
/// fraction digits as it needs, the form the pool's connections write and
/// compare (`recorded_at <= ?` for the log as of a time).
pub(crate) fn time_text(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// A time read back from the log's TEXT columns (`time_text`'s form).
pub(crate) fn time_from_text(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc))
}

fn parse_time(position: i64, text: &str) -> Result<DateTime<Utc>, StoreError> {
    time_from_text(text).map_err(|e| StoreError::Corrupt {
        position,
        reason: format!("recorded_at `{text}`: {e}"),
    })
}
