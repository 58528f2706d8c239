//! Snapshots of the dashboard model, so a past dashboard costs one snapshot
//! and the events after it instead of the tenant's whole history.
//!
//! At every [`EVERY`]th dashboard event of a tenant, the model saves, in the
//! transaction of the batch that holds it, the tenant's rows as they stand
//! after that event that a dashboard read at its position or later can
//! still need (the model applies a batch in parts that end at such events,
//! so the snapshots are the same however the log was batched: a model
//! resumed after a crash equals one rebuilt):
//! - the daily counters from two days before the week or the month that
//!   moment's dashboard shows, whichever starts first, and the latency
//!   buckets from two days before the week (a later read shows a later week
//!   and month; the two days cover a change of time zone, which moves a
//!   local date by at most one);
//! - the health of every app type, the budget limits and the time zone;
//! - the ten newest alerts: a later read shows the ten newest then, and an
//!   older alert can only fall further behind.
//!
//! `projections/tests/dashboard_snapshots.rs` checks that a dashboard built from a
//! snapshot equals one replayed from the start of the log, at every moment.

use agentledger_domain::calendar;
use agentledger_domain::ids::TenantId;
use agentledger_store::{Database, Position, on_database};
use chrono::{DateTime, Datelike, Days, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::ProjectionError;

/// A snapshot of a tenant is taken at its every 500th dashboard event, so a
/// past dashboard replays fewer than this many of its events.
pub const EVERY: i64 = 500;

/// Tenants' dashboard events so far (`rm_dashboard_counts`), as a batch
/// counts them: each read once, then counted on, and saved at the end.
#[derive(Debug, Default)]
pub struct Counts(pub std::collections::BTreeMap<String, i64>);

/// What a snapshot holds of one tenant. Its rows are the model's rows as
/// the dashboard reads them (`dashboard::read` uses the same types).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub zone: Option<String>,
    pub daily: Vec<Daily>,
    pub latency: Vec<Latency>,
    pub health: Vec<Health>,
    pub alerts: Vec<Alert>,
    pub budget: Option<Limits>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Daily {
    pub day: String,
    pub app_type: String,
    pub calls: i64,
    pub successes: i64,
    pub tokens: i64,
    pub latency_ms_sum: i64,
    pub cost_micros: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Latency {
    pub day: String,
    pub bucket: i32,
    pub runs: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Health {
    pub app_type: String,
    pub last_status: String,
    pub last_at_us: i64,
    pub position: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Alert {
    pub alert_id: String,
    pub source: String,
    pub severity: String,
    pub title: String,
    pub detail: String,
    pub status: String,
    pub raised_at_us: i64,
    pub position: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Limits {
    pub daily_tokens: Option<i64>,
    pub monthly_tokens: Option<i64>,
    pub daily_cost_micros: Option<i64>,
    pub monthly_cost_micros: Option<i64>,
}

/// The first days a snapshot taken at `at` keeps, in the tenant's zone: of
/// the daily counters (the week or the month, whichever starts first) and of
/// the latency buckets (the week: only the days of the trend show a p95).
pub fn first_days_kept(zone: Option<&str>, at: DateTime<Utc>) -> (String, String) {
    let today = at.with_timezone(&calendar::zone(zone)).date_naive();
    let week = today - Days::new(6);
    let month = today.with_day(1).unwrap_or(today);
    let day = |d: chrono::NaiveDate| (d - Days::new(2)).format("%Y-%m-%d").to_string();
    (day(week.min(month)), day(week))
}

/// Counts one more dashboard event of `tenant` in `counts` (reading its
/// count so far on first sight) and evaluates to its count with it. On
/// either backend's connection, inside the dashboard's batch.
#[macro_export]
macro_rules! count_dashboard_events {
    ($conn:ident, $counts:expr, $tenant:expr) => {{
        let tenant: &str = &$tenant;
        match $counts.0.get_mut(tenant) {
            Some(count) => {
                *count += 1;
                *count
            }
            None => {
                let stored: Option<i64> = sqlx::query_scalar(
                    "SELECT events FROM rm_dashboard_counts WHERE tenant_id = $1",
                )
                .bind(tenant)
                .fetch_optional(&mut *$conn)
                .await?;
                let count = stored.unwrap_or(0) + 1;
                $counts.0.insert(tenant.to_owned(), count);
                count
            }
        }
    }};
}

/// Saves the counts a batch reached.
#[macro_export]
macro_rules! save_dashboard_counts {
    ($conn:ident, $counts:expr) => {{
        let counts: Vec<(String, i64)> = $counts.0.into_iter().collect();
        $crate::insert_rows!(
            $conn,
            "INSERT INTO rm_dashboard_counts (tenant_id, events) ",
            counts,
            " ON CONFLICT (tenant_id) DO UPDATE SET events = excluded.events",
            |row, (tenant, events)| {
                row.push_bind(tenant.as_str()).push_bind(*events);
            }
        );
    }};
}

/// Saves a snapshot of `tenant` as the model stands at `position` (recorded
/// at `at`). On either backend's connection, inside the dashboard's batch.
#[macro_export]
macro_rules! take_dashboard_snapshot {
    ($conn:ident, $tenant:expr, $position:expr, $at:expr) => {{
        use $crate::dashboard_snapshots::{Alert, Daily, Health, Latency, Limits, Snapshot};
        let tenant: String = $tenant;
        let position: i64 = $position;
        let at: chrono::DateTime<chrono::Utc> = $at;
        let zone: Option<String> =
            sqlx::query_scalar("SELECT time_zone FROM rm_dashboard_zones WHERE tenant_id = $1")
                .bind(tenant.as_str())
                .fetch_optional(&mut *$conn)
                .await?;
        let (daily_from, latency_from) =
            $crate::dashboard_snapshots::first_days_kept(zone.as_deref(), at);
        let snapshot = Snapshot {
            daily: sqlx::query_as::<_, Daily>(
                "SELECT day, app_type, calls, successes, tokens, latency_ms_sum, cost_micros \
                 FROM rm_app_daily WHERE tenant_id = $1 AND day >= $2 ORDER BY day, app_type",
            )
            .bind(tenant.as_str())
            .bind(&daily_from)
            .fetch_all(&mut *$conn)
            .await?,
            latency: sqlx::query_as::<_, Latency>(
                "SELECT day, bucket, runs FROM rm_run_latency WHERE tenant_id = $1 AND day >= $2 \
                 ORDER BY day, bucket",
            )
            .bind(tenant.as_str())
            .bind(&latency_from)
            .fetch_all(&mut *$conn)
            .await?,
            health: sqlx::query_as::<_, Health>(
                "SELECT app_type, last_status, last_at_us, position FROM rm_app_health \
                 WHERE tenant_id = $1 ORDER BY app_type",
            )
            .bind(tenant.as_str())
            .fetch_all(&mut *$conn)
            .await?,
            alerts: sqlx::query_as::<_, Alert>(
                "SELECT alert_id, source, severity, title, detail, status, raised_at_us, position \
                 FROM rm_alerts WHERE tenant_id = $1 ORDER BY position DESC LIMIT 10",
            )
            .bind(tenant.as_str())
            .fetch_all(&mut *$conn)
            .await?,
            budget: sqlx::query_as::<_, Limits>(
                "SELECT daily_tokens, monthly_tokens, daily_cost_micros, monthly_cost_micros \
                 FROM rm_budgets WHERE tenant_id = $1",
            )
            .bind(tenant.as_str())
            .fetch_optional(&mut *$conn)
            .await?,
            zone,
        };
        let state = serde_json::to_string(&snapshot).map_err(|e| {
            $crate::engine::ProjectionError::Row(format!("dashboard snapshot: {e}"))
        })?;
        sqlx::query(
            "INSERT INTO rm_dashboard_snapshots (tenant_id, position, state) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, position) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(position)
        .bind(state)
        .execute(&mut *$conn)
        .await?;
    }};
}

/// The latest snapshot of `tenant` at or before `position`, with its position.
pub async fn latest(
    db: &Database,
    tenant: TenantId,
    position: Position,
) -> Result<Option<(Position, Snapshot)>, ProjectionError> {
    let found: Option<(i64, String)> = on_database!(db, p => sqlx::query_as(
        "SELECT position, state FROM rm_dashboard_snapshots \
         WHERE tenant_id = $1 AND position <= $2 ORDER BY position DESC LIMIT 1"
    )
    .bind(tenant.to_string())
    .bind(i64::try_from(position).unwrap_or(i64::MAX))
    .fetch_optional(p)
    .await?);
    let Some((at, state)) = found else {
        return Ok(None);
    };
    let snapshot = serde_json::from_str(&state)
        .map_err(|e| ProjectionError::Row(format!("dashboard snapshot at position {at}: {e}")))?;
    Ok(Some((at.max(0) as Position, snapshot)))
}

/// Writes `snapshot` of `tenant` into an empty dashboard model (a scratch
/// database), in one transaction.
pub async fn restore(
    db: &Database,
    tenant: TenantId,
    snapshot: &Snapshot,
) -> Result<(), ProjectionError> {
    let tenant = tenant.to_string();
    let _turn = db.write_turn().await;
    on_database!(db, p => {
        let mut tx = p.begin().await?;
        if let Some(zone) = &snapshot.zone {
            sqlx::query("INSERT INTO rm_dashboard_zones (tenant_id, time_zone) VALUES ($1, $2)")
                .bind(&tenant).bind(zone).execute(&mut *tx).await?;
        }
        for d in &snapshot.daily {
            sqlx::query(
                "INSERT INTO rm_app_daily (tenant_id, day, app_type, calls, successes, tokens, latency_ms_sum, cost_micros) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&tenant).bind(&d.day).bind(&d.app_type).bind(d.calls).bind(d.successes)
            .bind(d.tokens).bind(d.latency_ms_sum).bind(d.cost_micros)
            .execute(&mut *tx).await?;
        }
        for l in &snapshot.latency {
            sqlx::query("INSERT INTO rm_run_latency (tenant_id, day, bucket, runs) VALUES ($1, $2, $3, $4)")
                .bind(&tenant).bind(&l.day).bind(l.bucket).bind(l.runs)
                .execute(&mut *tx).await?;
        }
        for h in &snapshot.health {
            sqlx::query(
                "INSERT INTO rm_app_health (tenant_id, app_type, last_status, last_at_us, position) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&tenant).bind(&h.app_type).bind(&h.last_status).bind(h.last_at_us).bind(h.position)
            .execute(&mut *tx).await?;
        }
        for a in &snapshot.alerts {
            sqlx::query(
                "INSERT INTO rm_alerts (alert_id, tenant_id, source, severity, title, detail, status, raised_at_us, position) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&a.alert_id).bind(&tenant).bind(&a.source).bind(&a.severity).bind(&a.title)
            .bind(&a.detail).bind(&a.status).bind(a.raised_at_us).bind(a.position)
            .execute(&mut *tx).await?;
        }
        if let Some(b) = &snapshot.budget {
            sqlx::query(
                "INSERT INTO rm_budgets (tenant_id, daily_tokens, monthly_tokens, daily_cost_micros, monthly_cost_micros) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&tenant).bind(b.daily_tokens).bind(b.monthly_tokens)
            .bind(b.daily_cost_micros).bind(b.monthly_cost_micros)
            .execute(&mut *tx).await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn kept(zone: Option<&str>, at: DateTime<Utc>) -> (String, String) {
        first_days_kept(zone, at)
    }

    #[test]
    fn a_snapshot_keeps_two_days_before_the_week_or_the_month_whichever_starts_first() {
        let mid_month = Utc.with_ymd_and_hms(2026, 12, 20, 12, 0, 0).unwrap();
        assert_eq!(
            kept(None, mid_month),
            ("2026-11-29".into(), "2026-12-12".into())
        );
        let early = Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap();
        assert_eq!(
            kept(None, early),
            ("2026-11-25".into(), "2026-11-25".into())
        );
        // Already 4 December in Tokyo.
        let late = Utc.with_ymd_and_hms(2026, 12, 3, 20, 0, 0).unwrap();
        assert_eq!(
            kept(Some("Asia/Tokyo"), late),
            ("2026-11-26".into(), "2026-11-26".into())
        );
    }
}
