use async_trait::async_trait;
use uuid::Uuid;

use crate::error::StoreError;
use crate::event::{EventFilter, Position};
use crate::sql::plan::Head;
use crate::sql::row::{EventRow, Placement, StreamHead};

/// What a SQL database must provide for the shared group-commit engine.
///
/// `begin` takes the log's write lock and reads the head; the lock is held until
/// `commit` (or until the transaction is dropped, which rolls it back). Holding
/// it across position assignment and commit is what keeps positions visible only
/// in order.
#[async_trait]
pub(crate) trait Backend: Send + Sync + 'static {
    type Tx: Send;

    async fn begin(&self) -> Result<(Self::Tx, Head), StoreError>;
    async fn placements(
        &self,
        tx: &mut Self::Tx,
        ids: &[Uuid],
    ) -> Result<Vec<Placement>, StoreError>;
    async fn stream_heads(
        &self,
        tx: &mut Self::Tx,
        streams: &[&str],
    ) -> Result<Vec<StreamHead>, StoreError>;
    async fn insert(&self, tx: &mut Self::Tx, rows: &[EventRow]) -> Result<(), StoreError>;
    /// Moves the head to `head` and commits durably.
    async fn commit(&self, tx: Self::Tx, head: &Head) -> Result<(), StoreError>;

    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: i64,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError>;
    async fn read_all(
        &self,
        from_position: i64,
        limit: i64,
        filter: &EventFilter,
    ) -> Result<Vec<EventRow>, StoreError>;
    async fn head_position(&self) -> Result<Position, StoreError>;
}
