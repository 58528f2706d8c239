//! Batched SQL for the projections' writes and lookups: `insert_rows!` and
//! `select_in`, in statements of at most `ROWS_PER_STATEMENT` rows.

/// Rows per multi-row statement: 200 rows of up to 18 columns stay well inside
/// both databases' limits on bound parameters (SQLite 32766, PostgreSQL 65535).
pub const ROWS_PER_STATEMENT: usize = 200;

/// `INSERT … VALUES (…), (…) <tail>` of `rows`, in statements of at most
/// `ROWS_PER_STATEMENT`. A batch of events becomes a few statements instead
/// of one per event: each statement is a round trip to the driver, and on a
/// rebuild those round trips are most of the time. Rows of an upsert must
/// have distinct keys (PostgreSQL refuses to update a row twice in one
/// statement), so fold them first.
#[macro_export]
macro_rules! insert_rows {
    ($conn:ident, $head:expr, $rows:expr, $tail:expr, |$bind:ident, $row:pat_param| $push:block) => {
        for chunk in $rows.chunks($crate::engine::ROWS_PER_STATEMENT) {
            let mut statement = sqlx::QueryBuilder::new($head);
            statement.push_values(chunk, |mut $bind, $row| $push);
            statement.push($tail);
            statement.build().execute(&mut *$conn).await?;
        }
    };
}

/// `<head> IN ($1, $2, …)` over `keys`: a lookup of the rows a batch touches.
/// Callers keep `keys` to `ROWS_PER_STATEMENT` at a time.
pub fn select_in<'k, DB>(
    head: &str,
    keys: impl IntoIterator<Item = &'k str>,
) -> sqlx::QueryBuilder<DB>
where
    DB: sqlx::Database,
    DB::Arguments: Default,
    &'k str: sqlx::Encode<'k, DB> + sqlx::Type<DB>,
{
    let mut select = sqlx::QueryBuilder::new(head);
    select.push(" IN (");
    let mut list = select.separated(", ");
    for key in keys {
        list.push_bind(key);
    }
    select.push(")");
    select
}
