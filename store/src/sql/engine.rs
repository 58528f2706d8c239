//! The SQL event store: one writer task per store that commits every append
//! waiting for it in one transaction (group commit) through the backend's
//! `write`, and reads through the backend.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::error::StoreError;
use crate::event::{
    AppendOutcome, EventFilter, ExpectedVersion, NewEvent, Position, RecordedEvent,
};
use crate::event_store::EventStore;
use crate::sql::backend::Backend;
use crate::sql::plan::{Pending, Plan};
use crate::sql::row::into_events;
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
    append: Pending,
    reply: oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

pub(crate) struct SqlEventStore<B: Backend> {
    backend: Arc<B>,
    tail: Arc<Tail>,
    sender: Mutex<Option<mpsc::Sender<Request>>>,
    writer: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    head: watch::Receiver<Position>,
    /// The head's announcer: the writer's commits, and on PostgreSQL other
    /// servers' (`notify`).
    announce: Arc<watch::Sender<Position>>,
    /// On PostgreSQL, the task listening for other servers' commits.
    listener: Mutex<Option<JoinHandle<()>>>,
    poll_interval: Duration,
}

/// Moves `head` to `position` unless it is there or past it already: the
/// head only ever moves forward, whoever announces it.
pub(crate) fn advance_head(head: &watch::Sender<Position>, position: Position) {
    head.send_if_modified(|h| {
        let newer = position > *h;
        if newer {
            *h = position;
        }
        newer
    });
}

impl<B: Backend> SqlEventStore<B> {
    pub(crate) async fn start(backend: B, config: StoreConfig) -> Result<Self, StoreError> {
        let backend = Arc::new(backend);
        let (announce, head) = watch::channel(backend.head_position().await?);
        let announce = Arc::new(announce);
        let (sender, receiver) = mpsc::channel(1024);
        let poll_interval = config.poll_interval;
        let tail = Arc::new(Tail::default());
        let writer = tokio::spawn(run_writer(
            backend.clone(),
            receiver,
            announce.clone(),
            tail.clone(),
            config,
        ));
        Ok(Self {
            backend,
            tail,
            sender: Mutex::new(Some(sender)),
            writer: tokio::sync::Mutex::new(Some(writer)),
            head,
            announce,
            listener: Mutex::new(None),
            poll_interval,
        })
    }
}

impl SqlEventStore<crate::sql::postgres::PostgresBackend> {
    /// Wakes this store's subscribers at every commit of another server on
    /// the same log (`url` is the one the store was opened with).
    pub(crate) async fn hear_other_servers(&self, url: &str) -> Result<(), StoreError> {
        let schema = crate::sql::postgres::current_schema(&self.backend.pool)
            .await?
            .unwrap_or_default();
        let listening = crate::sql::notify::spawn(url.to_owned(), schema, self.announce.clone());
        let earlier = self
            .listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(listening);
        if let Some(earlier) = earlier {
            earlier.abort();
        }
        Ok(())
    }
}

async fn run_writer<B: Backend>(
    backend: Arc<B>,
    mut receiver: mpsc::Receiver<Request>,
    head: Arc<watch::Sender<Position>>,
    tail: Arc<Tail>,
    config: StoreConfig,
) {
    let publish = |plan: Plan| {
        let position = plan.head.position.max(0) as Position;
        let before = position - plan.rows.len() as Position;
        match into_events(plan.rows) {
            Ok(events) => tail.extend(before, events),
            // A row that does not read back (it cannot happen to rows just
            // written) leaves the tail to start over, and subscribers read
            // from the store.
            Err(_) => tail.forget(),
        }
        advance_head(&head, position);
        plan.outcomes
    };
    while let Some(first) = receiver.recv().await {
        let mut batch_events = first.append.events.len();
        let mut batch = vec![first];
        // Whatever queued while the previous commit was flushing goes into this one.
        while config.group_commit && batch_events < config.max_batch_events {
            match receiver.try_recv() {
                Ok(request) => {
                    batch_events += request.append.events.len();
                    batch.push(request);
                }
                Err(_) => break,
            }
        }
        let (group, replies): (Vec<Pending>, Vec<_>) =
            batch.into_iter().map(|r| (r.append, r.reply)).unzip();
        let group: Arc<[Pending]> = group.into();
        match backend
            .write(group.clone(), config.before_commit.clone())
            .await
        {
            Ok(plan) => {
                for (reply, outcome) in replies.into_iter().zip(publish(plan)) {
                    let _ = reply.send(outcome);
                }
            }
            Err(err) if replies.len() == 1 => {
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(err));
                }
            }
            Err(err) => {
                // Nothing of the batch was written. Commit each append alone so
                // every caller gets its own answer.
                tracing::warn!(error = %err, appends = replies.len(), "group commit failed; retrying appends one by one");
                for (append, reply) in group.iter().zip(replies) {
                    let single: Arc<[Pending]> = Arc::from(vec![append.clone()]);
                    let outcome = match backend.write(single, config.before_commit.clone()).await {
                        // `plan` answers every append it is given.
                        Ok(plan) => publish(plan).pop().unwrap_or(Err(StoreError::Closed)),
                        Err(err) => Err(err),
                    };
                    let _ = reply.send(outcome);
                }
            }
        }
    }
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
            append: Pending {
                stream_id: stream_id.to_owned(),
                expected,
                events,
            },
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
        let listener = self
            .listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(listener) = listener {
            listener.abort();
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_never_moves_back() {
        let (head, seen) = watch::channel(10);
        advance_head(&head, 5);
        assert_eq!(*seen.borrow(), 10);
        assert!(
            !seen.has_changed().unwrap_or(true),
            "an older head wakes no one"
        );
        advance_head(&head, 12);
        assert_eq!(*seen.borrow(), 12);
    }
}
