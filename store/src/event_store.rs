use async_trait::async_trait;

use crate::error::StoreError;
use crate::event::{
    AppendOutcome, EventFilter, ExpectedVersion, NewEvent, Position, RecordedEvent,
};
use crate::subscription::Subscription;

/// The append-only log every part of agentledger writes to and reads from.
/// The contract (checked for every adapter by `conformance`):
///
/// - `append` is all or nothing and checks `expected` against the stream's last
///   version; a mismatch is `StoreError::Conflict` and writes nothing.
/// - An `event_id` that is already stored is never written again: re-appending
///   the same events returns their original placement, at any later time.
/// - Positions are global, start at 1, and are gap-free; a reader never sees a
///   position before every lower one is visible.
/// - An `Ok` from `append` means the events are durable.
#[async_trait]
pub trait EventStore: Send + Sync {
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError>;

    /// Events of one stream with `stream_version >= from_version`, in order.
    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Events with `position >= from_position` that match `filter`, in position order.
    async fn read_all(
        &self,
        from_position: Position,
        limit: usize,
        filter: &EventFilter,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The position of the last stored event (0 when the log is empty).
    async fn head_position(&self) -> Result<Position, StoreError>;

    /// Every event from `from_position` on: first those already stored, then
    /// each new one as it commits, exactly once and in position order.
    fn subscribe_all(&self, from_position: Position, filter: EventFilter) -> Subscription;

    /// Stops taking appends, finishes those already accepted, and waits until
    /// they are committed.
    async fn close(&self);
}
