use std::sync::Arc;

use crate::database::Database;
use crate::error::StoreError;
use crate::event_store::EventStore;
use crate::idempotency::{IdempotencyStore, SqlIdempotency};
use crate::sql::engine::{SqlEventStore, StoreConfig};
use crate::sql::postgres::PostgresBackend;
use crate::sql::sqlite::SqliteBackend;

/// An SQLite file in the working directory: no setup needed.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://agentledger.db";

/// Everything kept in one database: the event log and the remembered answers
/// to idempotent commands.
#[derive(Clone)]
pub struct Storage {
    pub events: Arc<dyn EventStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// The same database, for read models (on SQLite through connections that
    /// do not flush each commit: models are rebuilt from the log).
    pub database: Database,
}

/// Opens the database a URL names: `sqlite://path` or `postgres://…` /
/// `postgresql://…`. Migrations are applied.
pub async fn open(url: &str, config: StoreConfig) -> Result<Storage, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let backend =
            PostgresBackend::connect(url, config.max_connections, config.create_missing_schema)
                .await?;
        let pool = Database::Postgres(backend.pool.clone());
        let events = SqlEventStore::start(backend, config).await?;
        events.hear_other_servers(url).await?;
        Ok(storage(events, pool.clone(), pool))
    } else if url.starts_with("sqlite:") {
        let backend = SqliteBackend::connect(url, config.max_connections).await?;
        let (models, durable) = (backend.models(), backend.durable());
        Ok(storage(
            SqlEventStore::start(backend, config).await?,
            models,
            durable,
        ))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}

/// A private, empty, migrated database in memory, gone when dropped: a
/// scratch space for read models built up to a past moment.
pub async fn scratch_database() -> Result<Database, StoreError> {
    Ok(SqliteBackend::in_memory().await?.models())
}

/// Storage for tests that need no files and no server: the log in memory
/// (`memory::MemoryStore`), and read models and idempotency keys in a
/// private SQLite database in memory. Gone when dropped.
#[cfg(feature = "testing")]
pub async fn in_memory() -> Result<Storage, StoreError> {
    let backend = SqliteBackend::in_memory().await?;
    Ok(Storage {
        events: Arc::new(crate::memory::MemoryStore::new()),
        idempotency: Arc::new(SqlIdempotency {
            database: backend.durable(),
        }),
        database: backend.models(),
    })
}

fn storage<B: crate::sql::backend::Backend>(
    events: SqlEventStore<B>,
    models: Database,
    durable: Database,
) -> Storage {
    Storage {
        events: Arc::new(events),
        idempotency: Arc::new(SqlIdempotency { database: durable }),
        database: models,
    }
}
