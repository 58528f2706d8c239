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
    /// On SQLite, waits for this process's turn to write (see `WriteGate`),
    /// behind the log's committer; hold it until the transaction ends.
    /// `None` on PostgreSQL, whose writers lock rows, not the database.
    pub async fn write_turn(&self) -> Option<Turn> {
        match self {
            Database::Sqlite(_, gate) => Some(gate.enter_behind().await),
            Database::Postgres(_) => None,
        }
    }
}

/// SQLite lets one transaction write at a time, and a connection that finds
/// the lock taken sleeps in its busy handler (1, 2, 5, 10 ms and longer) before
/// trying again. Writers of one process queue here instead, in order and
/// without sleeping; another process (a `rebuild` beside a server) still meets
/// them at SQLite's own lock.
///
/// The log's committer goes first: the others (each projection, reactor
/// checkpoints, idempotency keys) first queue among themselves, so at most
/// one of them waits for the turn at a time, and an append waits for at most
/// the writer holding the turn and that one, not for a batch of every model.
#[derive(Clone, Debug, Default)]
pub struct WriteGate {
    turn: Arc<Mutex<()>>,
    behind: Arc<Mutex<()>>,
}

/// A writer's turn, held until its transaction ends.
pub struct Turn {
    _turn: OwnedMutexGuard<()>,
    _behind: Option<OwnedMutexGuard<()>>,
}

impl WriteGate {
    /// The log's committer's turn.
    pub async fn enter(&self) -> Turn {
        Turn {
            _turn: self.turn.clone().lock_owned().await,
            _behind: None,
        }
    }

    /// Any other writer's turn.
    pub async fn enter_behind(&self) -> Turn {
        let behind = self.behind.clone().lock_owned().await;
        Turn {
            _turn: self.turn.clone().lock_owned().await,
            _behind: Some(behind),
        }
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
