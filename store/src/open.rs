use std::sync::Arc;

use crate::error::StoreError;
use crate::event_store::EventStore;
use crate::sql::engine::StoreConfig;
use crate::sql::postgres::PostgresEventStore;
use crate::sql::sqlite::SqliteEventStore;

/// An SQLite file in the working directory: no setup needed.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://agentledger.db";

/// Opens the store a database URL names: `sqlite://path`
/// or `postgres://…` / `postgresql://…`. Migrations are applied.
pub async fn open(url: &str, config: StoreConfig) -> Result<Arc<dyn EventStore>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresEventStore::open(url, config).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteEventStore::open(url, config).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}
