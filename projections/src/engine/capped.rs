//! Counters and sums that saturate at `CAP` instead of overflowing, in Rust
//! (`clamp`, `add_capped`) and in SQL (`add_capped_sql`, `sum_capped_sql`).

use agentledger_store::Database;

/// The most any counter or sum of a read model holds: 2^53 − 1, the largest
/// integer every JSON reader (JavaScript's numbers) holds exactly. Sums stop
/// there instead of overflowing: an overflow stopped the dashboard of every
/// tenant on PostgreSQL ("bigint out of range") and turned SQLite's integers
/// into floats. Reaching it takes more than ten million runs at the largest
/// values a run may report, in one day of one app.
pub const CAP: i64 = (1 << 53) - 1;

/// A count or amount as the read models store it, at most `CAP`.
pub fn clamp(n: u64) -> i64 {
    n.min(CAP as u64) as i64
}

/// `a + b` for the read models' sums: never past `CAP`, never below 0.
pub fn add_capped(a: i64, b: i64) -> i64 {
    a.saturating_add(b).clamp(0, CAP)
}

/// The `SET` list of an upsert that adds each of `columns` of the new row to
/// the stored one, stopping at `CAP` (one expression both databases accept;
/// both operands are at most `CAP`, so the addition itself cannot overflow).
pub fn add_capped_sql(table: &str, columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| {
            format!(
                "{c} = CASE WHEN {table}.{c} + excluded.{c} > {CAP} THEN {CAP} ELSE {table}.{c} + excluded.{c} END"
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `SUM(column)` of a query over many rows, stopping at `CAP`: exact below
/// it on both databases. PostgreSQL sums `BIGINT` as `NUMERIC`, which cannot
/// overflow; SQLite's `SUM` fails on overflow, so it uses `TOTAL` (a double,
/// exact while the sum is below 2^53, which is the cap).
pub fn sum_capped_sql(db: &Database, column: &str) -> String {
    match db {
        Database::Postgres(_) => {
            format!("CAST(LEAST(COALESCE(SUM({column}), 0), {CAP}) AS BIGINT)")
        }
        Database::Sqlite(..) => format!("CAST(MIN(TOTAL({column}), {CAP}) AS INTEGER)"),
    }
}
