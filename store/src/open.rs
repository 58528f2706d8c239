use std::sync::Arc;

use crate::error::StoreError;
use crate::event_store::EventStore;
use crate::sql::engine::{SqlEventStore, StoreConfig};
use crate::sql::postgres::PostgresBackend;
use crate::sql::sqlite::SqliteBackend;

/// An SQLite file in the working directory: no setup needed.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://agentledger.db";

/// Opens the store a database URL names: `sqlite://path`
/// or `postgres://…` / `postgresql://…`. Migrations are applied.
pub async fn open(url: &str, config: StoreConfig) -> Result<Arc<dyn EventStore>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let backend = PostgresBackend::connect(url, config.max_connections).await?;
        Ok(Arc::new(SqlEventStore::start(backend, config).await?))
    } else if url.starts_with("sqlite:") {
        let backend = SqliteBackend::connect(url, config.max_connections).await?;
        Ok(Arc::new(SqlEventStore::start(backend, config).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}
