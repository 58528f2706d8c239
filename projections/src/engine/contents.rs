//! A read model's full contents as plain values (`contents`), for tests that
//! compare models.

use agentledger_store::{Database, on_database};

use super::projection::{Projection, ProjectionError};

/// A read model's full contents: every row of every table it owns, each as
/// its column values, sorted. Rebuild and crash tests compare these.
pub type Contents = std::collections::BTreeMap<&'static str, Vec<Vec<serde_json::Value>>>;

pub async fn contents(
    db: &Database,
    projection: &dyn Projection,
) -> Result<Contents, ProjectionError> {
    use serde_json::Value;
    use sqlx::{Row, TypeInfo, ValueRef};
    let mut all = Contents::new();
    for table in projection.tables() {
        let mut rows: Vec<Vec<Value>> = on_database!(db, p => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table}"))).fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let mut cells = Vec::with_capacity(row.len());
                for i in 0..row.len() {
                    let raw = row.try_get_raw(i)?;
                    let cell = if raw.is_null() {
                        Value::Null
                    } else {
                        match raw.type_info().name() {
                            "INTEGER" | "INT8" | "BIGINT" => Value::from(row.try_get::<i64, _>(i)?),
                            "INT4" | "INT" => Value::from(row.try_get::<i32, _>(i)?),
                            "REAL" | "FLOAT8" | "DOUBLE PRECISION" => Value::from(row.try_get::<f64, _>(i)?),
                            "BOOL" | "BOOLEAN" => Value::from(row.try_get::<bool, _>(i)?),
                            _ => Value::from(row.try_get::<String, _>(i)?),
                        }
                    };
                    cells.push(cell);
                }
                out.push(cells);
            }
            out
        });
        rows.sort_by_cached_key(|r| serde_json::to_string(r).unwrap_or_default());
        all.insert(table, rows);
    }
    Ok(all)
}
