//! The agentledger event store: the `EventStore` contract, its SQL adapters
//! (SQLite embedded, PostgreSQL), a store in memory for tests (`testing`), and
//! the conformance suite every one of them passes.

mod as_of;
pub mod conformance;
pub mod console_sessions;
mod database;
mod error;
mod event;
mod event_store;
pub mod idempotency;
pub mod integrity;
#[cfg(feature = "testing")]
pub mod memory;
mod open;
pub mod secrets;
pub mod sql;
mod subscription;
mod tail;
pub mod testing;

pub use as_of::{AsOf, ParseAsOfError, Prefix};
pub use database::{Database, WriteGate};
pub use error::StoreError;
pub use event::{
    AppendOutcome, Committed, EventFilter, ExpectedVersion, NewEvent, Position, RecordedEvent, now,
    to_hex,
};
pub use event_store::EventStore;
pub use idempotency::{Claim, IdempotencyStore, StoredAnswer};
#[cfg(feature = "testing")]
pub use open::in_memory;
pub use open::{DEFAULT_DATABASE_URL, Storage, open, scratch_database};
pub use sql::engine::{BeforeCommit, StoreConfig};
pub use subscription::{LogReader, Subscription};
