//! An event store in memory, for tests that need a store but not a database:
//! command handlers and use cases against a log that is fast and private.
//! It keeps the same contract as the SQL adapters (the conformance suite runs
//! on it) because it decides appends with the same pure planner
//! (`sql::plan`), hashes included, and serves subscriptions through
//! [`Subscription::over`]. Nothing survives the process.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;
use uuid::Uuid;

use crate::error::StoreError;
use crate::event::{
    AppendOutcome, EventFilter, ExpectedVersion, NewEvent, Position, RecordedEvent,
};
use crate::event_store::EventStore;
use crate::integrity::GENESIS_HASH;
use crate::sql::plan::{Append, Head, plan};
use crate::sql::row::{EventRow, Placement, StreamHead};
use crate::subscription::{LogReader, Subscription};

/// How long a subscriber at the head waits for an announcement before
/// looking again; every append announces itself, so this is only a backstop.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// One handle on a log in memory. [`MemoryStore::handle`] opens another on
/// the same log, as a second process opens the same database.
pub struct MemoryStore {
    log: Arc<Log>,
    closed: AtomicBool,
}

struct Log {
    state: Mutex<State>,
    head: watch::Sender<Position>,
}

struct State {
    events: Vec<RecordedEvent>,
    /// Positions of each stream's events, in version order.
    streams: HashMap<String, Vec<Position>>,
    placements: HashMap<Uuid, Placement>,
    head: Head,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty log.
    pub fn new() -> Self {
        let state = State {
            events: Vec::new(),
            streams: HashMap::new(),
            placements: HashMap::new(),
            head: Head {
                position: 0,
                hash: GENESIS_HASH.to_vec(),
                recorded_at: None,
            },
        };
        let (head, _) = watch::channel(0);
        Self {
            log: Arc::new(Log {
                state: Mutex::new(state),
                head,
            }),
            closed: AtomicBool::new(false),
        }
    }

    /// Another handle on the same log.
    pub fn handle(&self) -> Self {
        Self {
            log: self.log.clone(),
            closed: AtomicBool::new(false),
        }
    }
}

impl Log {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<AppendOutcome, StoreError> {
        let mut state = self.state();
        let stored = events
            .iter()
            .filter_map(|e| state.placements.get(&e.event_id).cloned())
            .collect();
        let stream_heads = state
            .streams
            .get(stream_id)
            .map(|positions| StreamHead {
                stream_id: stream_id.to_owned(),
                version: positions.len() as i64 - 1,
            })
            .into_iter()
            .collect();
        let append = Append {
            stream_id,
            expected,
            events,
        };
        let decided = plan(
            state.head.clone(),
            stored,
            stream_heads,
            std::slice::from_ref(&append),
            crate::event::now(),
        );
        let outcome = decided
            .outcomes
            .into_iter()
            .next()
            .unwrap_or(Err(StoreError::Closed));
        if outcome.is_ok() && !decided.rows.is_empty() {
            let placements: Vec<Placement> = decided.rows.iter().map(placement).collect();
            // Rows the planner just made always read back; should one not,
            // nothing of the append is kept.
            let recorded = crate::sql::row::into_events(decided.rows)?;
            for (placement, event) in placements.into_iter().zip(recorded) {
                state.keep(placement, event);
            }
            state.head = decided.head;
            // Announced under the lock, so heads are announced in order.
            self.head
                .send_replace(state.head.position.max(0) as Position);
        }
        outcome
    }
}

fn placement(row: &EventRow) -> Placement {
    Placement {
        event_id: row.event_id,
        stream_id: row.stream_id.clone(),
        stream_version: row.stream_version,
        position: row.position,
    }
}

impl State {
    fn keep(&mut self, placement: Placement, event: RecordedEvent) {
        self.placements.insert(placement.event_id, placement);
        self.streams
            .entry(event.stream_id.clone())
            .or_default()
            .push(event.position);
        self.events.push(event);
    }

    /// The event at `position` (positions start at 1 and have no gaps).
    fn at(&self, position: Position) -> Option<&RecordedEvent> {
        let index = usize::try_from(position.checked_sub(1)?).ok()?;
        self.events.get(index)
    }
}

#[async_trait]
impl LogReader for Log {
    async fn read_all(
        &self,
        from_position: Position,
        limit: usize,
        filter: &EventFilter,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let state = self.state();
        let start = usize::try_from(from_position.saturating_sub(1)).unwrap_or(usize::MAX);
        Ok(state
            .events
            .iter()
            .skip(start)
            .filter(|e| filter.matches(e))
            .take(limit)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl EventStore for MemoryStore {
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        self.log.append(stream_id, expected, &events)
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let state = self.log.state();
        let Some(positions) = state.streams.get(stream_id) else {
            return Ok(Vec::new());
        };
        let start = usize::try_from(from_version).unwrap_or(usize::MAX);
        Ok(positions
            .iter()
            .skip(start)
            .take(limit)
            .filter_map(|p| state.at(*p).cloned())
            .collect())
    }

    async fn read_all(
        &self,
        from_position: Position,
        limit: usize,
        filter: &EventFilter,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        LogReader::read_all(&*self.log, from_position, limit, filter).await
    }

    async fn head_position(&self) -> Result<Position, StoreError> {
        Ok(*self.log.head.borrow())
    }

    fn subscribe_all(&self, from_position: Position, filter: EventFilter) -> Subscription {
        Subscription::over(
            self.log.clone(),
            from_position,
            filter,
            self.log.head.subscribe(),
            POLL_INTERVAL,
        )
    }

    /// Appends are answered as they are made, so there is nothing to wait for.
    async fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }
}
