use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::error::StoreError;
use crate::event::{EventFilter, Position, RecordedEvent};
use crate::tail::Tail;

/// The read half a subscription needs from a store: with it and a watch of
/// the log's head, any store (one outside this crate too) gets its
/// subscriptions from [`Subscription::over`].
#[async_trait]
pub trait LogReader: Send + Sync {
    async fn read_all(
        &self,
        from_position: Position,
        limit: usize,
        filter: &EventFilter,
    ) -> Result<Vec<RecordedEvent>, StoreError>;
}

/// Catch-up then live delivery of the global log.
///
/// It reads pages from the store until it is at the head, then waits for the
/// local writer to announce a new head, and takes what that writer committed
/// from its in-memory tail. Other processes may append to the same database,
/// so it also reads the store after `poll_interval` without an announcement.
/// Because positions become visible only in order (see DESIGN.md), reading
/// `position >= next` can never step over an event that commits later.
pub struct Subscription {
    reader: Arc<dyn LogReader>,
    tail: Arc<Tail>,
    /// The next fill reads the store even at the local head.
    poll_store: bool,
    filter: EventFilter,
    next: Position,
    buffer: VecDeque<RecordedEvent>,
    head: watch::Receiver<Position>,
    poll_interval: Duration,
    page_size: usize,
}

impl Subscription {
    pub(crate) fn new(
        reader: Arc<dyn LogReader>,
        tail: Arc<Tail>,
        from_position: Position,
        filter: EventFilter,
        head: watch::Receiver<Position>,
        poll_interval: Duration,
    ) -> Self {
        Self {
            reader,
            tail,
            poll_store: true,
            filter,
            next: from_position.max(1),
            buffer: VecDeque::new(),
            head,
            poll_interval,
            page_size: 512,
        }
    }

    /// A subscription to a store that announces each new head on `head`
    /// and reads everything else through `reader`.
    pub fn over(
        reader: Arc<dyn LogReader>,
        from_position: Position,
        filter: EventFilter,
        head: watch::Receiver<Position>,
        poll_interval: Duration,
    ) -> Self {
        let tail = Arc::new(Tail::default());
        Self::new(reader, tail, from_position, filter, head, poll_interval)
    }

    /// The next event, waiting for it if the subscription is at the head.
    /// Cancel-safe: dropped before it returns, it has moved past nothing.
    pub async fn next(&mut self) -> Result<RecordedEvent, StoreError> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                return Ok(event);
            }
            // Mark the current head as seen before reading, so a commit that
            // lands after the read still wakes the wait below.
            self.head.borrow_and_update();
            if self.fill().await? {
                continue;
            }
            let waited = tokio::time::timeout(self.poll_interval, self.head.changed()).await;
            match waited {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    // The local writer is gone; only other processes can still append.
                    tokio::time::sleep(self.poll_interval).await;
                    self.poll_store = true;
                }
                Err(_) => self.poll_store = true,
            }
        }
    }

    /// Up to `max` events that are already stored, without waiting for new ones.
    pub async fn next_batch(&mut self, max: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        if self.buffer.is_empty() {
            self.fill().await?;
        }
        let n = max.min(self.buffer.len());
        Ok(self.buffer.drain(..n).collect())
    }

    /// The newest head this process has announced: a lower bound of the
    /// log's head, read without a query.
    pub fn announced_head(&self) -> Position {
        *self.head.borrow()
    }

    /// The position the next delivered event will have at least.
    pub fn next_position(&self) -> Position {
        self.buffer.front().map_or(self.next, |e| e.position)
    }

    async fn fill(&mut self) -> Result<bool, StoreError> {
        let local = self.tail.read(self.next, self.page_size, &self.filter);
        let page = match local {
            // What the tail looked at and did not match is passed for good:
            // a feed that matches little moves with the log, instead of
            // asking the database again at every commit once it falls out
            // of the tail.
            Some((page, scanned)) => {
                self.next = self.next.max(scanned + 1);
                page
            }
            // Past all this process committed: only another process's appends
            // could be there, and those are looked for on the poll.
            None if !self.poll_store && self.next > *self.head.borrow() => Vec::new(),
            None => {
                self.reader
                    .read_all(self.next, self.page_size, &self.filter)
                    .await?
            }
        };
        self.poll_store = false;
        if let Some(last) = page.last() {
            self.next = last.position + 1;
        }
        let got = !page.is_empty();
        self.buffer.extend(page);
        Ok(got)
    }
}
