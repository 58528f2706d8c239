//! The database behind a store, for tables beside the log (idempotency keys,
//! read models). SQL meant for both backends is written once, with `$n`
//! placeholders in order of first use (SQLite reads them as named
//! parameters, PostgreSQL as positional), and run through `on_database!`,
//! which expands the same code once per backend.

use sqlx::{PgPool, SqlitePool};

#[derive(Clone, Debug)]
pub enum Database {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// `on_database!(db, p => expr)`: evaluates `expr` with `p` bound to the
/// SQLite or the PostgreSQL pool, whichever `db` holds.
#[macro_export]
macro_rules! on_database {
    ($db:expr, $p:ident => $body:expr) => {
        match $db {
            $crate::Database::Sqlite($p) => $body,
            $crate::Database::Postgres($p) => $body,
        }
    };
}
