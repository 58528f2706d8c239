use std::sync::Arc;

use async_trait::async_trait;

use crate::error::StoreError;
use crate::event::{EventFilter, Position};
use crate::sql::engine::BeforeCommit;
use crate::sql::plan::{Pending, Plan};
use crate::sql::row::EventRow;

/// What a SQL database must provide for the shared group-commit engine.
///
/// `write` takes the log's write lock, reads the head and what the group's
/// event ids and streams already hold, plans the group (`plan::plan`),
/// inserts its rows, moves the head and commits durably, all in one
/// transaction. Holding the lock across position assignment and commit is
/// what keeps positions visible only in order.
#[async_trait]
pub(crate) trait Backend: Send + Sync + 'static {
    async fn write(
        &self,
        group: Arc<[Pending]>,
        before_commit: Option<BeforeCommit>,
    ) -> Result<Plan, StoreError>;

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
