//! The SQL event store: one writer task per store that commits every append
//! waiting for it in one transaction (group commit), and reads straight from
//! the pool.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::error::StoreError;
use crate::event::{
    AppendOutcome, EventFilter, ExpectedVersion, NewEvent, Position, RecordedEvent, now,
};
use crate::event_store::EventStore;
use crate::sql::backend::Backend;
use crate::sql::plan::{Append, plan};
use crate::sql::row::{EventRow, into_events};
use crate::subscription::{LogReader, Subscription};
use crate::tail::Tail;

/// Called inside every write transaction after the rows are inserted and before
/// the commit. Tests use it to hold transactions open and to provoke
/// out-of-order commits; it is `None` in production.
pub type BeforeCommit = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

#[derive(Clone)]
pub struct StoreConfig {
    /// Commit all appends that queued up during the previous commit together.
    /// Off: one transaction per append (for comparison in benchmarks).
    pub group_commit: bool,
    /// Upper bound of events in one group commit.
    pub max_batch_events: usize,
    /// Largest number of pooled connections (readers and the writer).
    pub max_connections: u32,
    /// How often a subscriber at the head re-reads without a local commit,
    /// to see appends made by other processes.
    pub poll_interval: Duration,
    /// PostgreSQL: create the schema a `search_path` names if it is missing
    /// (for `replay` targets). Off, a mistyped schema fails instead of
    /// starting an empty ledger.
    pub create_missing_schema: bool,
    pub before_commit: Option<BeforeCommit>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            group_commit: true,
            max_batch_events: 4096,
            max_connections: 8,
            poll_interval: Duration::from_millis(200),
            create_missing_schema: false,
            before_commit: None,
        }
    }
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("group_commit", &self.group_commit)
            .field("max_batch_events", &self.max_batch_events)
            .field("max_connections", &self.max_connections)
            .field("poll_interval", &self.poll_interval)
            .field("create_missing_schema", &self.create_missing_schema)
            .field("before_commit", &self.before_commit.is_some())
            .finish()
    }
}

struct Request {
    stream_id: String,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
    reply: oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

pub(crate) struct SqlEventStore<B: Backend> {
    backend: Arc<B>,
    tail: Arc<Tail>,
    sender: Mutex<Option<mpsc::Sender<Request>>>,
    writer: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    head: watch::Receiver<Position>,
    poll_interval: Duration,
}

impl<B: Backend> SqlEventStore<B> {
    pub(crate) async fn start(backend: B, config: StoreConfig) -> Result<Self, StoreError> {
        let backend = Arc::new(backend);
        let (head_tx, head) = watch::channel(backend.head_position().await?);
        let (sender, receiver) = mpsc::channel(1024);
        let poll_interval = config.poll_interval;
        let tail = Arc::new(Tail::default());
        let writer = tokio::spawn(run_writer(
            backend.clone(),
            receiver,
            head_tx,
            tail.clone(),
            config,
        ));
        Ok(Self {
            backend,
            tail,
            sender: Mutex::new(Some(sender)),
            writer: tokio::sync::Mutex::new(Some(writer)),
            head,
            poll_interval,
        })
    }
}

async fn run_writer<B: Backend>(
    backend: Arc<B>,
    mut receiver: mpsc::Receiver<Request>,
    head: watch::Sender<Position>,
    tail: Arc<Tail>,
    config: StoreConfig,
) {
    while let Some(first) = receiver.recv().await {
        let mut batch_events = first.events.len();
        let mut batch = vec![first];
        // Whatever queued while the previous commit was flushing goes into this one.
        while config.group_commit && batch_events < config.max_batch_events {
            match receiver.try_recv() {
                Ok(request) => {
                    batch_events += request.events.len();
                    batch.push(request);
                }
                Err(_) => break,
            }
        }
        match commit(&*backend, &batch, config.before_commit.as_ref()).await {
            Ok((outcomes, position, committed)) => {
                committed.publish(&tail);
                head.send_if_modified(|h| std::mem::replace(h, position) != position);
                for (request, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = request.reply.send(outcome);
                }
            }
            Err(err) if batch.len() == 1 => {
                if let Some(request) = batch.pop() {
                    let _ = request.reply.send(Err(err));
                }
            }
            Err(err) => {
                // Nothing of the batch was written. Commit each append alone so
                // every caller gets its own answer.
                tracing::warn!(error = %err, appends = batch.len(), "group commit failed; retrying appends one by one");
                for request in batch {
                    let single = std::slice::from_ref(&request);
                    let outcome = match commit(&*backend, single, config.before_commit.as_ref())
                        .await
                    {
                        Ok((mut outcomes, position, committed)) => {
                            committed.publish(&tail);
                            head.send_if_modified(|h| std::mem::replace(h, position) != position);
                            // `plan` answers every append it is given.
                            outcomes.pop().unwrap_or(Err(StoreError::Closed))
                        }
                        Err(err) => Err(err),
                    };
                    let _ = request.reply.send(outcome);
                }
            }
        }
    }
}

/// What a commit wrote, after the head it found.
struct Committed {
    before: Position,
    rows: Vec<EventRow>,
}

impl Committed {
    /// Hands the new events to this process's subscribers. A row that does
    /// not read back (it cannot happen to rows just written) leaves the tail
    /// to start over, and subscribers read from the store.
    fn publish(self, tail: &Tail) {
        match into_events(self.rows) {
            Ok(events) => tail.extend(self.before, events),
            Err(_) => tail.forget(),
        }
    }
}

/// One transaction for all of `batch`. Returns each append's outcome, the
/// head position after the commit, and what it wrote.
async fn commit<B: Backend>(
    backend: &B,
    batch: &[Request],
    before_commit: Option<&BeforeCommit>,
) -> Result<(Vec<Result<AppendOutcome, StoreError>>, Position, Committed), StoreError> {
    let (mut tx, head) = backend.begin().await?;
    let before = head.position.max(0) as Position;
    let ids: Vec<_> = batch
        .iter()
        .flat_map(|r| r.events.iter().map(|e| e.event_id))
        .collect();
    let streams: BTreeSet<&str> = batch.iter().map(|r| r.stream_id.as_str()).collect();
    let streams: Vec<&str> = streams.into_iter().collect();
    let placements = backend.placements(&mut tx, &ids).await?;
    let stream_heads = backend.stream_heads(&mut tx, &streams).await?;
    let appends: Vec<Append<'_>> = batch
        .iter()
        .map(|r| Append {
            stream_id: &r.stream_id,
            expected: r.expected,
            events: &r.events,
        })
        .collect();
    let plan = plan(head, placements, stream_heads, &appends, now());
    if !plan.rows.is_empty() {
        backend.insert(&mut tx, &plan.rows).await?;
        if let Some(hook) = before_commit {
            hook().await;
        }
        backend.commit(tx, &plan.head).await?;
    }
    let committed = Committed {
        before,
        rows: plan.rows,
    };
    Ok((plan.outcomes, plan.head.position as Position, committed))
}

#[async_trait]
impl<B: Backend> LogReader for B {
    async fn read_all(
        &self,
        from_position: Position,
        limit: usize,
        filter: &EventFilter,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows =
            Backend::read_all(self, clamp(from_position), clamp(limit as u64), filter).await?;
        into_events(rows)
    }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl<B: Backend> EventStore for SqlEventStore<B> {
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        let sender = self
            .sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or(StoreError::Closed)?;
        let (reply, answer) = oneshot::channel();
        let request = Request {
            stream_id: stream_id.to_owned(),
            expected,
            events,
            reply,
        };
        sender.send(request).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = self
            .backend
            .read_stream(stream_id, clamp(from_version), clamp(limit as u64))
            .await?;
        into_events(rows)
    }

    async fn read_all(
        &self,
        from_position: Position,
        limit: usize,
        filter: &EventFilter,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        LogReader::read_all(&*self.backend, from_position, limit, filter).await
    }

    async fn head_position(&self) -> Result<Position, StoreError> {
        self.backend.head_position().await
    }

    fn subscribe_all(&self, from_position: Position, filter: EventFilter) -> Subscription {
        Subscription::new(
            self.backend.clone(),
            self.tail.clone(),
            from_position,
            filter,
            self.head.clone(),
            self.poll_interval,
        )
    }

    async fn close(&self) {
        drop(
            self.sender
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        if let Some(writer) = self.writer.lock().await.take() {
            let _ = writer.await;
        }
    }
}
