//! Persistent projections: each applies batches of events to its tables in
//! one transaction that also advances its checkpoint, so a crash at any point
//! neither loses nor double-counts an event. The runner catches up from the
//! checkpoint, then follows new events as they commit.

use std::sync::Arc;
use std::time::Duration;

use agentledger_domain::Event;
use agentledger_domain::codec::decode_if;
use agentledger_store::{
    Database, EventFilter, EventStore, Position, RecordedEvent, StoreError, on_database,
};
use async_trait::async_trait;

use crate::follower::{Progress, Reporter};

/// Events per transaction.
pub const BATCH: usize = 1000;

/// How long a live runner lets events gather after the first one arrives.
/// Under load, several events then share one transaction instead of each
/// taking a write turn of its own (on SQLite every write turn is one the
/// log's committer waits for); when the log is quiet it adds this to the lag.
pub const LINGER: Duration = Duration::from_millis(5);

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("read model database: {0}")]
    Database(#[from] sqlx::Error),
    /// An event of a type the model applies whose payload does not decode:
    /// the model stops there rather than pass over it.
    #[error("cannot apply the event at position {position}: {source}")]
    Event {
        position: Position,
        source: agentledger_domain::codec::CodecError,
    },
    #[error("no projection named `{0}`")]
    Unknown(String),
    #[error("the read model was reset to position {checkpoint}; reading again from there")]
    Behind { checkpoint: Position },
}

/// Applies events to a read model on one backend's connection, inside the
/// runner's transaction. Implement it for both backends with `sql_projection!`.
#[async_trait]
pub trait Apply<Connection: Send>: Send + Sync {
    async fn apply(
        &self,
        conn: &mut Connection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError>;
}

pub trait Projection:
    Apply<sqlx::SqliteConnection> + Apply<sqlx::PgConnection> + Send + Sync + 'static
{
    fn name(&self) -> &'static str;
    /// The tables it owns: emptied by a rebuild.
    fn tables(&self) -> &'static [&'static str];
    /// The event types it applies; empty when it looks at every event. The
    /// runner still reads the whole log (the checkpoint passes every event);
    /// a scratch model built for one request reads only these.
    fn event_types(&self) -> &'static [&'static str] {
        &[]
    }
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
            ) -> Result<(), $crate::engine::ProjectionError> {
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
            ) -> Result<(), $crate::engine::ProjectionError> {
                let $this = self;
                $body
            }
        }
    };
}

/// The event as `E` when its type is one of `E`'s, `None` when it is another
/// enum's; an error naming its position when it is `E`'s but does not decode.
/// A payload stored at an older schema version is upcast first.
pub fn decode_event<E: Event>(event: &RecordedEvent) -> Result<Option<E>, ProjectionError> {
    decode_if(&event.event_type, event.schema_version, &event.payload).map_err(|source| {
        ProjectionError::Event {
            position: event.position,
            source,
        }
    })
}

/// Rows per multi-row statement: 200 rows of up to 18 columns stay well inside
/// both databases' limits on bound parameters (SQLite 32766, PostgreSQL 65535).
pub const ROWS_PER_STATEMENT: usize = 200;

/// `INSERT … VALUES (…), (…) <tail>` of `rows`, in statements of at most
/// `ROWS_PER_STATEMENT`. A batch of events becomes a few statements instead
/// of one per event: each statement is a round trip to the driver, and on a
/// rebuild those round trips are most of the time. Rows of an upsert must
/// have distinct keys (PostgreSQL refuses to update a row twice in one
/// statement), so fold them first.
#[macro_export]
macro_rules! insert_rows {
    ($conn:ident, $head:expr, $rows:expr, $tail:expr, |$bind:ident, $row:pat_param| $push:block) => {
        for chunk in $rows.chunks($crate::engine::ROWS_PER_STATEMENT) {
            let mut statement = sqlx::QueryBuilder::new($head);
            statement.push_values(chunk, |mut $bind, $row| $push);
            statement.push($tail);
            statement.build().execute(&mut *$conn).await?;
        }
    };
}

/// `<head> IN ($1, $2, …)` over `keys`: a lookup of the rows a batch touches.
/// Callers keep `keys` to `ROWS_PER_STATEMENT` at a time.
pub fn select_in<'k, DB>(
    head: &str,
    keys: impl IntoIterator<Item = &'k str>,
) -> sqlx::QueryBuilder<DB>
where
    DB: sqlx::Database,
    DB::Arguments: Default,
    &'k str: sqlx::Encode<'k, DB> + sqlx::Type<DB>,
{
    let mut select = sqlx::QueryBuilder::new(head);
    select.push(" IN (");
    let mut list = select.separated(", ");
    for key in keys {
        list.push_bind(key);
    }
    select.push(")");
    select
}

/// The most any counter or sum of a read model holds: 2^53 − 1, the largest
/// integer every JSON reader (JavaScript's numbers) holds exactly. Sums stop
/// there instead of overflowing: an overflow stopped the dashboard of every
/// tenant on PostgreSQL ("bigint out of range") and turned SQLite's integers
/// into floats. Reaching it takes more than ten million runs at the largest
/// values a run may report, in one day of one app.
pub const CAP: i64 = (1 << 53) - 1;

/// A count or amount as the read models store it, at most `CAP`.
pub fn clamp(n: u64) -> i64 {
    n.min(CAP as u64) as i64
}

/// `a + b` for the read models' sums: never past `CAP`, never below 0.
pub fn add_capped(a: i64, b: i64) -> i64 {
    a.saturating_add(b).clamp(0, CAP)
}

/// The `SET` list of an upsert that adds each of `columns` of the new row to
/// the stored one, stopping at `CAP` (one expression both databases accept;
/// both operands are at most `CAP`, so the addition itself cannot overflow).
pub fn add_capped_sql(table: &str, columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| {
            format!(
                "{c} = CASE WHEN {table}.{c} + excluded.{c} > {CAP} THEN {CAP} ELSE {table}.{c} + excluded.{c} END"
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `SUM(column)` of a query over many rows, stopping at `CAP`: exact below
/// it on both databases. PostgreSQL sums `BIGINT` as `NUMERIC`, which cannot
/// overflow; SQLite's `SUM` fails on overflow, so it uses `TOTAL` (a double,
/// exact while the sum is below 2^53, which is the cap).
pub fn sum_capped_sql(db: &Database, column: &str) -> String {
    match db {
        Database::Postgres(_) => format!("CAST(LEAST(SUM({column}), {CAP}) AS BIGINT)"),
        Database::Sqlite(..) => format!("CAST(MIN(TOTAL({column}), {CAP}) AS INTEGER)"),
    }
}

/// Every persistent projection, by name.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(crate::operation_log::OperationLog),
        Arc::new(crate::dashboard::Dashboard),
        Arc::new(crate::run_log::RunLog),
        Arc::new(crate::agent_stats::AgentStats),
        Arc::new(crate::tasks::Tasks),
        Arc::new(crate::command_history::CommandHistory),
        Arc::new(crate::usage::Usage),
        Arc::new(crate::webhooks_and_cache::WebhooksAndCache),
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

/// Told after every batch: the projection's name and the events it applied.
pub type Observer = Arc<dyn Fn(&'static str, usize) + Send + Sync>;

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
    while from <= until {
        let mut events = store.read_all(from, BATCH, &EventFilter::default()).await?;
        events.retain(|e| e.position <= until);
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
/// reading it once: each batch goes to each model in turn, one transaction
/// (with its checkpoint) per model, while the next batch is being read.
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
        let mut events = store
            .read_all(from, BUILD_BATCH, &EventFilter::default())
            .await?;
        events.retain(|e| e.position <= until);
        Ok::<_, ProjectionError>(events)
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
            for (projection, built) in projections.iter().zip(built.iter_mut()) {
                let started = std::time::Instant::now();
                for applied in apply_batch(db, &[&**projection], &batch).await? {
                    built.events += applied.events as u64;
                }
                built.applying += started.elapsed();
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

/// A read model's full contents: every row of every table it owns, each as
/// its column values, sorted. Rebuild and crash tests compare these.
pub type Contents = std::collections::BTreeMap<&'static str, Vec<Vec<serde_json::Value>>>;

pub async fn contents(
    db: &Database,
    projection: &dyn Projection,
) -> Result<Contents, ProjectionError> {
    use serde_json::Value;
    use sqlx::{Row, TypeInfo, ValueRef};
    let mut all = Contents::new();
    for table in projection.tables() {
        let mut rows: Vec<Vec<Value>> = on_database!(db, p => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table}"))).fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let mut cells = Vec::with_capacity(row.len());
                for i in 0..row.len() {
                    let raw = row.try_get_raw(i)?;
                    let cell = if raw.is_null() {
                        Value::Null
                    } else {
                        match raw.type_info().name() {
                            "INTEGER" | "INT8" | "BIGINT" => Value::from(row.try_get::<i64, _>(i)?),
                            "INT4" | "INT" => Value::from(row.try_get::<i32, _>(i)?),
                            "REAL" | "FLOAT8" | "DOUBLE PRECISION" => Value::from(row.try_get::<f64, _>(i)?),
                            "BOOL" | "BOOLEAN" => Value::from(row.try_get::<bool, _>(i)?),
                            _ => Value::from(row.try_get::<String, _>(i)?),
                        }
                    };
                    cells.push(cell);
                }
                out.push(cells);
            }
            out
        });
        rows.sort_by_cached_key(|r| serde_json::to_string(r).unwrap_or_default());
        all.insert(table, rows);
    }
    Ok(all)
}
