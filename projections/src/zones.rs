//! The tenants' time zones as a model saw them, event by event. Every model
//! that counts days keeps its own copy in a table it owns (rebuilt with it),
//! so each counts a run on the same day as the dashboard: a zone change
//! applies from the next event on, and days already counted stay as they
//! were, so a rebuild gives the same rows.

use std::collections::HashMap;

use agentledger_domain::calendar;
use agentledger_domain::ids::TenantId;
use agentledger_store::{Database, on_database};
use chrono_tz::Tz;

use crate::engine::ProjectionError;

/// The zones of the tenants a batch touches, read once per batch.
pub type Seen = HashMap<String, Tz>;

/// Records `$tenant`'s zone (`Option<String>`: `None` is UTC) in `$table`
/// and in `$seen`. A macro, so one body serves both backends' connections.
#[macro_export]
macro_rules! remember_zone {
    ($conn:ident, $seen:expr, $table:expr, $tenant:expr, $zone:expr) => {{
        let tenant: &str = $tenant;
        let zone: Option<&str> = $zone;
        match zone {
            Some(zone) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {} (tenant_id, time_zone) VALUES ($1, $2) \
                 ON CONFLICT (tenant_id) DO UPDATE SET time_zone = excluded.time_zone",
                $table
            )))
            .bind(tenant)
            .bind(zone),
            None => sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {} WHERE tenant_id = $1",
                $table
            )))
            .bind(tenant),
        }
        .execute(&mut *$conn)
        .await?;
        $seen.insert(tenant.to_owned(), agentledger_domain::calendar::zone(zone));
    }};
}

/// `$tenant`'s zone as `$table` holds it, read once per batch into `$seen`.
#[macro_export]
macro_rules! zone_of {
    ($conn:ident, $seen:expr, $table:expr, $tenant:expr) => {{
        let tenant: &str = $tenant;
        match $seen.get(tenant) {
            Some(zone) => *zone,
            None => {
                let name: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT time_zone FROM {} WHERE tenant_id = $1",
                    $table
                )))
                .bind(tenant)
                .fetch_optional(&mut *$conn)
                .await?;
                let zone = agentledger_domain::calendar::zone(name.as_deref());
                $seen.insert(tenant.to_owned(), zone);
                zone
            }
        }
    }};
}

/// The zone `table` holds for `tenant` now: the days a query counts back
/// from today.
pub async fn current(db: &Database, table: &str, tenant: TenantId) -> Result<Tz, ProjectionError> {
    let sql = format!("SELECT time_zone FROM {table} WHERE tenant_id = $1");
    let name: Option<String> = on_database!(db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
        .bind(tenant.to_string())
        .fetch_optional(p)
        .await?);
    Ok(calendar::zone(name.as_deref()))
}
