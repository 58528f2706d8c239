//! The database behind a store, for tables beside the log (idempotency keys,
//! read models). SQL meant for both backends is written once, with `$n`
//! placeholders in order of first use (SQLite reads them as named
//! parameters, PostgreSQL as positional), and run through `on_database!`,
//! which expands the same code once per backend.

use std::sync::Arc;

use sqlx::{PgPool, SqlitePool};
use tokio::sync::{Mutex, OwnedMutexGuard};

#[derive(Clone, Debug)]
pub enum Database {
    Sqlite(SqlitePool, WriteGate),
    Postgres(PgPool),
}

impl Database {
    /// On SQLite, waits for this process's turn to write (see `WriteGate`);
    /// hold the guard until the transaction ends. `None` on PostgreSQL, whose
    /// writers lock rows, not the database.
    pub async fn write_turn(&self) -> Option<OwnedMutexGuard<()>> {
        match self {
            Database::Sqlite(_, gate) => Some(gate.enter().await),
            Database::Postgres(_) => None,
        }
    }
}

/// SQLite lets one transaction write at a time, and a connection that finds
/// the lock taken sleeps in its busy handler (1, 2, 5, 10 ms and longer) before
/// trying again. Writers of one process (the log's committer, each projection)
/// queue here instead, in order and without sleeping; another process (a
/// `rebuild` beside a server) still meets them at SQLite's own lock.
#[derive(Clone, Debug, Default)]
pub struct WriteGate(Arc<Mutex<()>>);

impl WriteGate {
    pub async fn enter(&self) -> OwnedMutexGuard<()> {
        self.0.clone().lock_owned().await
    }
}

/// `on_database!(db, p => expr)`: evaluates `expr` with `p` bound to the
/// SQLite or the PostgreSQL pool, whichever `db` holds.
#[macro_export]
macro_rules! on_database {
    ($db:expr, $p:ident => $body:expr) => {
        match $db {
            $crate::Database::Sqlite($p, _) => $body,
            $crate::Database::Postgres($p) => $body,
        }
    };
}
