use uuid::Uuid;

use crate::event::ExpectedVersion;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("stream `{stream}` expected {expected:?} but its last version is {actual:?}")]
    Conflict {
        stream: String,
        expected: ExpectedVersion,
        actual: Option<u64>,
    },
    /// Some but not all of a batch's event ids are already stored, or they are
    /// stored in another stream or order: the ids were reused for different events.
    #[error(
        "event {event_id} is already stored with different placement; event ids must not be reused"
    )]
    IdempotencyMismatch { event_id: Uuid },
    #[error("invalid append: {0}")]
    InvalidAppend(String),
    #[error("stored event at position {position} cannot be decoded: {reason}")]
    Corrupt { position: i64, reason: String },
    #[error("the store is shut down")]
    Closed,
    #[error("unsupported database url `{0}` (expected sqlite:// or postgres://)")]
    UnsupportedUrl(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The SQLite log's writer connection.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Writer(String),
}
