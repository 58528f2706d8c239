//! The dashboard (S1): today's calls, success rate, tokens and latency; a
//! 7-day trend; app distribution and health; recent alerts; budget use. Kept
//! as counters per tenant, day (in the tenant's time zone, UTC unless it set
//! one) and app type, so one dashboard read costs
//! the same whether the log holds a thousand events or ten million.

use std::collections::BTreeMap;

use agentledger_domain::Aggregate;
use agentledger_domain::alert::{Alert, AlertEvent, AlertEventType, AlertStatus};
use agentledger_domain::budget::{BudgetEvent, BudgetEventType, BudgetScope};
use agentledger_domain::calendar;
use agentledger_domain::ids::TenantId;
use agentledger_domain::reports::{ReportEvent, ReportEventType, RunStatus};
use agentledger_domain::tenant::{TenantEvent, TenantEventType};
use agentledger_store::{Database, on_database};
use chrono::{DateTime, Days, Utc};
use serde::Serialize;
use strum::VariantNames;

// The rows a dashboard reads are the ones its snapshots keep.
use crate::dashboard_snapshots::{Daily as DailyRow, Latency as LatencyRow, Limits as LimitsRow};
use crate::engine::{Projection, ProjectionError, add_capped, add_capped_sql, clamp, decode_event};
use crate::{insert_rows, sql_projection};

pub struct Dashboard;

/// The tenants' zones as the dashboard counts days in them.
const ZONES: &str = "rm_dashboard_zones";

impl Projection for Dashboard {
    fn name(&self) -> &'static str {
        "dashboard"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "rm_app_daily",
            "rm_app_health",
            "rm_run_latency",
            "rm_alerts",
            "rm_budgets",
            "rm_dashboard_zones",
            "rm_dashboard_snapshots",
            "rm_dashboard_counts",
        ]
    }

    fn event_types(&self) -> &'static [&'static str] {
        TYPES
    }
}

/// The events the dashboard applies. A past dashboard is replayed from
/// these alone, so the live one must not look at any other.
const TYPES: &[&str] = &[
    TenantEventType::TenantTimeZoneSet.into_str(),
    ReportEventType::LlmRunRecorded.into_str(),
    AlertEventType::AlertRaised.into_str(),
    AlertEventType::AlertAcknowledged.into_str(),
    AlertEventType::AlertIgnored.into_str(),
    BudgetEventType::BudgetSet.into_str(),
    BudgetEventType::BudgetRuleSet.into_str(),
    BudgetEventType::BudgetRuleRemoved.into_str(),
];

sql_projection!(Dashboard, |_this, conn, batch| {
    // Each tenant's zone, looked up once per batch.
    let mut zones = crate::zones::Seen::new();
    // Each tenant's dashboard events so far, read once per batch.
    let mut counts = crate::dashboard_snapshots::Counts::default();
    // The batch is applied in parts that end where a tenant's snapshot is due,
    // so snapshots fall on the same events however the log was batched.
    let mut rest = batch;
    while !rest.is_empty() {
        let mut end = rest.len();
        let mut due = None;
        for (i, event) in rest.iter().enumerate() {
            if !TYPES.contains(&event.event_type.as_str()) {
                continue;
            }
            let tenant = event.tenant_id.to_string();
            let count = crate::count_dashboard_events!(conn, counts, tenant);
            if count % crate::dashboard_snapshots::EVERY == 0 {
                (end, due) = (i + 1, Some(tenant));
                break;
            }
        }
        let (events, after) = rest.split_at(end);
        rest = after;
        // Runs are folded first: one upsert per tenant, day and app type, and one
        // per app's health, for the whole part.
        let mut daily: BTreeMap<(String, String, String), DaySums> = BTreeMap::new();
        let mut health: BTreeMap<(String, String), (RunStatus, i64, i64)> = BTreeMap::new();
        let mut latency: BTreeMap<(String, String, i32), i64> = BTreeMap::new();
        for event in events {
            if !TYPES.contains(&event.event_type.as_str()) {
                continue;
            }
            let tenant = event.tenant_id.to_string();
            let position = event.position as i64;
            // Each enum below has no type in `TYPES` but the ones matched, so
            // each event decodes as at most one of them.
            if let Some(TenantEvent::TenantTimeZoneSet { time_zone }) =
                decode_event::<TenantEvent>(event)?
            {
                crate::remember_zone!(conn, zones, ZONES, &tenant, time_zone.as_deref());
            } else if let Some(ReportEvent::LlmRunRecorded {
                app_type,
                prompt_tokens,
                completion_tokens,
                cost_micros,
                latency_ms,
                status,
                ..
            }) = decode_event::<ReportEvent>(event)?
            {
                let zone = crate::zone_of!(conn, zones, ZONES, &tenant);
                let date = calendar::day(zone, event.occurred_at);
                *latency
                    .entry((
                        tenant.clone(),
                        date.clone(),
                        latency_bucket(clamp(*latency_ms)),
                    ))
                    .or_default() += 1;
                let day = daily
                    .entry((tenant.clone(), date, app_type.clone()))
                    .or_default();
                day.calls += 1;
                day.successes += i64::from(*status == RunStatus::Success);
                day.tokens = day
                    .tokens
                    .saturating_add(clamp(prompt_tokens.saturating_add(*completion_tokens)));
                day.tokens = day.tokens.min(crate::engine::CAP);
                day.latency_ms_sum = add_capped(day.latency_ms_sum, clamp(*latency_ms));
                day.cost_micros = add_capped(day.cost_micros, *cost_micros);
                let at = event.occurred_at.timestamp_micros();
                let last = health
                    .entry((tenant, app_type.clone()))
                    .or_insert((*status, at, position));
                // The latest run by its time; of runs at the same time, the later in the log.
                if last.1 <= at {
                    *last = (*status, at, position);
                }
            } else if AlertEvent::VARIANTS.contains(&event.event_type.as_str()) {
                // Decoded only on an alert's own stream, whose id it needs.
                let Some(alert_id) = Alert::CATEGORY.id_in(&event.stream_id) else {
                    continue;
                };
                match decode_event::<AlertEvent>(event)? {
                    Some(AlertEvent::AlertRaised(alert)) => {
                        sqlx::query(
                        "INSERT INTO rm_alerts (alert_id, tenant_id, source, severity, title, detail, status, raised_at_us, position) \
                         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8) ON CONFLICT (alert_id) DO NOTHING",
                    )
                    .bind(alert_id)
                    .bind(&tenant)
                    .bind(alert.source.as_str())
                    .bind(alert.severity.as_str())
                    .bind(&alert.title)
                    .bind(&alert.detail)
                    .bind(event.occurred_at.timestamp_micros())
                    .bind(position)
                    .execute(&mut *conn)
                    .await?;
                    }
                    Some(handled) => {
                        let status = if matches!(handled, AlertEvent::AlertAcknowledged { .. }) {
                            AlertStatus::Acknowledged
                        } else {
                            AlertStatus::Ignored
                        };
                        sqlx::query("UPDATE rm_alerts SET status = $1 WHERE alert_id = $2")
                            .bind(status.as_str())
                            .bind(alert_id)
                            .execute(&mut *conn)
                            .await?;
                    }
                    None => continue,
                }
            } else if let Some(budget) = decode_event::<BudgetEvent>(event)?
                && let (BudgetScope::Tenant, rule) = budget.rule()
            {
                // The tenant's own budget; agents' and models' are listed from
                // the budgets model.
                let limits = rule.map(|r| r.limits).unwrap_or_default();
                sqlx::query(
                "INSERT INTO rm_budgets (tenant_id, daily_tokens, monthly_tokens, daily_cost_micros, monthly_cost_micros) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id) DO UPDATE SET daily_tokens = excluded.daily_tokens, \
                 monthly_tokens = excluded.monthly_tokens, daily_cost_micros = excluded.daily_cost_micros, \
                 monthly_cost_micros = excluded.monthly_cost_micros",
            )
            .bind(&tenant)
            .bind(limits.daily_tokens.map(clamp))
            .bind(limits.monthly_tokens.map(clamp))
            .bind(limits.daily_cost_micros)
            .bind(limits.monthly_cost_micros)
            .execute(&mut *conn)
            .await?;
            }
        }
        let daily: Vec<_> = daily.into_iter().collect();
        insert_rows!(
            conn,
            "INSERT INTO rm_app_daily (tenant_id, day, app_type, calls, successes, tokens, latency_ms_sum, cost_micros) ",
            daily,
            format!(
                " ON CONFLICT (tenant_id, day, app_type) DO UPDATE SET {}",
                add_capped_sql(
                    "rm_app_daily",
                    &[
                        "calls",
                        "successes",
                        "tokens",
                        "latency_ms_sum",
                        "cost_micros"
                    ]
                )
            ),
            |row, ((tenant, day, app), sums)| {
                row.push_bind(tenant.as_str())
                    .push_bind(day.as_str())
                    .push_bind(app.as_str())
                    .push_bind(sums.calls)
                    .push_bind(sums.successes)
                    .push_bind(sums.tokens)
                    .push_bind(sums.latency_ms_sum)
                    .push_bind(sums.cost_micros);
            }
        );
        let latency: Vec<_> = latency.into_iter().collect();
        insert_rows!(
            conn,
            "INSERT INTO rm_run_latency (tenant_id, day, bucket, runs) ",
            latency,
            " ON CONFLICT (tenant_id, day, bucket) DO UPDATE SET runs = rm_run_latency.runs + excluded.runs",
            |row, ((tenant, day, bucket), runs)| {
                row.push_bind(tenant.as_str())
                    .push_bind(day.as_str())
                    .push_bind(*bucket)
                    .push_bind(*runs);
            }
        );
        let health: Vec<_> = health.into_iter().collect();
        insert_rows!(
            conn,
            "INSERT INTO rm_app_health (tenant_id, app_type, last_status, last_at_us, position) ",
            health,
            " ON CONFLICT (tenant_id, app_type) DO UPDATE SET last_status = excluded.last_status, \
         last_at_us = excluded.last_at_us, position = excluded.position \
         WHERE rm_app_health.last_at_us <= excluded.last_at_us",
            |row, ((tenant, app), (status, at, position))| {
                row.push_bind(tenant.as_str())
                    .push_bind(app.as_str())
                    .push_bind(status.as_str())
                    .push_bind(*at)
                    .push_bind(*position);
            }
        );
        if let (Some(tenant), Some(last)) = (due, events.last()) {
            crate::take_dashboard_snapshot!(conn, tenant, last.position as i64, last.recorded_at);
        }
    }
    crate::save_dashboard_counts!(conn, counts);
    Ok(())
});

/// Latency buckets grow by a tenth: bucket `b` holds what took more than
/// 1.1^(b-1) ms and at most 1.1^b ms (bucket 0: at most 1 ms).
const BUCKET_GROWTH: f64 = 1.1;

/// The bucket of a run that took `ms` milliseconds.
pub fn latency_bucket(ms: i64) -> i32 {
    if ms <= 1 {
        return 0;
    }
    let b = ((ms as f64).ln() / BUCKET_GROWTH.ln()).ceil() as i32;
    // Rounding may put an exact bound one bucket off: settle it exactly.
    if bucket_bound(b - 1) >= ms { b - 1 } else { b }
}

/// The most a run in bucket `b` took, in whole milliseconds.
pub fn bucket_bound(b: i32) -> i64 {
    BUCKET_GROWTH.powi(b).floor() as i64
}

/// The latency under which `share` of a day's runs fall: the bound of the
/// bucket that reaches it (at most a tenth above the true value).
fn percentile(buckets: &[(i32, i64)], share: f64) -> Option<i64> {
    let total: i64 = buckets.iter().map(|(_, n)| *n).sum();
    if total == 0 {
        return None;
    }
    let rank = (share * total as f64).ceil().max(1.0) as i64;
    let mut seen = 0;
    for (bucket, runs) in buckets {
        seen += runs;
        if seen >= rank {
            return Some(bucket_bound(*bucket));
        }
    }
    buckets.last().map(|(b, _)| bucket_bound(*b))
}

/// One day's run counters of one app type, summed over a batch.
#[derive(Default)]
struct DaySums {
    calls: i64,
    successes: i64,
    tokens: i64,
    latency_ms_sum: i64,
    cost_micros: i64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayTotals {
    pub date: String,
    pub calls: i64,
    pub successes: i64,
    pub success_rate: Option<f64>,
    pub tokens: i64,
    pub avg_latency_ms: Option<f64>,
    /// 95 % of the day's runs took at most this long: the bound of a
    /// bucket, at most a tenth above the exact percentile.
    pub p95_latency_ms: Option<i64>,
    #[serde(rename = "cost_usd", serialize_with = "crate::wire::usd")]
    #[cfg_attr(feature = "openapi", schema(value_type = f64))]
    pub cost_micros: i64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppShare {
    pub app_type: String,
    pub calls: i64,
    pub share: f64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AppHealth {
    pub app_type: String,
    pub last_status: String,
    #[serde(rename = "last_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub last_at_us: i64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AlertRow {
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub alert_id: String,
    pub source: String,
    pub severity: String,
    pub title: String,
    pub detail: String,
    pub status: String,
    #[serde(rename = "raised_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub raised_at_us: i64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetUse {
    pub used: i64,
    pub limit: Option<i64>,
    /// `used / limit`, when there is a limit.
    pub share: Option<f64>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Budget {
    pub daily_tokens: BudgetUse,
    pub monthly_tokens: BudgetUse,
    #[serde(rename = "daily_cost_usd")]
    pub daily_cost_micros: CostUse,
    #[serde(rename = "monthly_cost_usd")]
    pub monthly_cost_micros: CostUse,
}

/// A [`BudgetUse`] of money: micro-dollars kept, US dollars written.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostUse {
    #[serde(serialize_with = "crate::wire::usd")]
    #[cfg_attr(feature = "openapi", schema(value_type = f64))]
    pub used: i64,
    #[serde(serialize_with = "crate::wire::maybe_usd")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<f64>))]
    pub limit: Option<i64>,
    /// `used / limit`, when there is a limit.
    pub share: Option<f64>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DashboardView {
    /// The zone the tenant's days are counted in (`UTC` unless it set one).
    pub time_zone: String,
    pub today: DayTotals,
    /// The last 7 days, oldest first, today last.
    pub trend: Vec<DayTotals>,
    /// Calls per app type over those 7 days, most first.
    pub apps: Vec<AppShare>,
    pub health: Vec<AppHealth>,
    /// The 10 newest alerts.
    pub recent_alerts: Vec<AlertRow>,
    pub budget: Budget,
}

fn totals(date: &str, rows: &[DailyRow], latencies: &[LatencyRow]) -> DayTotals {
    let buckets: Vec<(i32, i64)> = latencies
        .iter()
        .filter(|r| r.day == date)
        .map(|r| (r.bucket, r.runs))
        .collect();
    let of_day = rows.iter().filter(|r| r.day == date);
    let (calls, successes, tokens, latency, cost) =
        of_day.fold((0, 0, 0, 0, 0), |(c, s, t, l, k), r| {
            (
                add_capped(c, r.calls),
                add_capped(s, r.successes),
                add_capped(t, r.tokens),
                add_capped(l, r.latency_ms_sum),
                add_capped(k, r.cost_micros),
            )
        });
    DayTotals {
        date: date.to_owned(),
        calls,
        successes,
        success_rate: (calls > 0).then(|| successes as f64 / calls as f64),
        tokens,
        avg_latency_ms: (calls > 0).then(|| latency as f64 / calls as f64),
        p95_latency_ms: percentile(&buckets, 0.95),
        cost_micros: cost,
    }
}

pub fn budget_use(used: i64, limit: Option<i64>) -> BudgetUse {
    BudgetUse {
        used,
        limit,
        share: share(used, limit),
    }
}

pub fn cost_use(used: i64, limit: Option<i64>) -> CostUse {
    CostUse {
        used,
        limit,
        share: share(used, limit),
    }
}

fn share(used: i64, limit: Option<i64>) -> Option<f64> {
    limit.filter(|l| *l > 0).map(|l| used as f64 / l as f64)
}

/// The dashboard of `tenant` as of `now`, in the tenant's days.
pub async fn read(
    db: &Database,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> Result<DashboardView, ProjectionError> {
    let tenant = tenant.to_string();
    let zone_name: Option<String> = on_database!(db, p => sqlx::query_scalar(
        "SELECT time_zone FROM rm_dashboard_zones WHERE tenant_id = $1"
    ).bind(&tenant).fetch_optional(p).await?);
    let zone = calendar::zone(zone_name.as_deref());
    // Whole calendar days back from the local date, so a DST change never
    // skips or repeats one.
    let today = now.with_timezone(&zone).date_naive();
    let days: Vec<String> = (0..7)
        .rev()
        .map(|d| (today - Days::new(d)).format("%Y-%m-%d").to_string())
        .collect();
    let month = calendar::month(zone, now);
    let first_day = days
        .first()
        .cloned()
        .unwrap_or_default()
        .min(format!("{month}-01"));
    // Rows of the week and of the month so far: at most 31 days times the app types.
    let rows: Vec<DailyRow> = on_database!(db, p => sqlx::query_as::<_, DailyRow>(
        "SELECT day, app_type, calls, successes, tokens, latency_ms_sum, cost_micros FROM rm_app_daily \
         WHERE tenant_id = $1 AND day >= $2 ORDER BY day"
    ).bind(&tenant).bind(&first_day).fetch_all(p).await?);
    let latencies: Vec<LatencyRow> = on_database!(db, p => sqlx::query_as::<_, LatencyRow>(
        "SELECT day, bucket, runs FROM rm_run_latency WHERE tenant_id = $1 AND day >= $2 ORDER BY day, bucket"
    ).bind(&tenant).bind(days.first().cloned().unwrap_or_default()).fetch_all(p).await?);
    let health: Vec<AppHealth> = on_database!(db, p => sqlx::query_as::<_, AppHealth>(
        "SELECT app_type, last_status, last_at_us FROM rm_app_health WHERE tenant_id = $1 ORDER BY app_type"
    ).bind(&tenant).fetch_all(p).await?);
    let recent_alerts: Vec<AlertRow> = on_database!(db, p => sqlx::query_as::<_, AlertRow>(
        "SELECT alert_id, source, severity, title, detail, status, raised_at_us FROM rm_alerts \
         WHERE tenant_id = $1 ORDER BY position DESC LIMIT 10"
    ).bind(&tenant).fetch_all(p).await?);
    let limits: Option<LimitsRow> = on_database!(db, p => sqlx::query_as::<_, LimitsRow>(
        "SELECT daily_tokens, monthly_tokens, daily_cost_micros, monthly_cost_micros FROM rm_budgets WHERE tenant_id = $1"
    ).bind(&tenant).fetch_optional(p).await?);

    let trend: Vec<DayTotals> = days.iter().map(|d| totals(d, &rows, &latencies)).collect();
    let today = trend
        .last()
        .cloned()
        .unwrap_or_else(|| totals("", &[], &[]));
    let week: Vec<&DailyRow> = rows.iter().filter(|r| days.contains(&r.day)).collect();
    let week_calls: i64 = week.iter().fold(0, |sum, r| add_capped(sum, r.calls));
    let mut apps: Vec<AppShare> = Vec::new();
    for row in &week {
        match apps.iter_mut().find(|a| a.app_type == row.app_type) {
            Some(app) => app.calls = add_capped(app.calls, row.calls),
            None => apps.push(AppShare {
                app_type: row.app_type.clone(),
                calls: row.calls,
                share: 0.0,
            }),
        }
    }
    for app in &mut apps {
        app.share = if week_calls > 0 {
            app.calls as f64 / week_calls as f64
        } else {
            0.0
        };
    }
    apps.sort_by(|a, b| {
        b.calls
            .cmp(&a.calls)
            .then_with(|| a.app_type.cmp(&b.app_type))
    });
    let month_rows = rows.iter().filter(|r| r.day.starts_with(&month));
    let (month_tokens, month_cost) = month_rows.fold((0, 0), |(t, c), r| {
        (add_capped(t, r.tokens), add_capped(c, r.cost_micros))
    });
    let limits = limits.unwrap_or(LimitsRow {
        daily_tokens: None,
        monthly_tokens: None,
        daily_cost_micros: None,
        monthly_cost_micros: None,
    });
    let budget = Budget {
        daily_tokens: budget_use(today.tokens, limits.daily_tokens),
        monthly_tokens: budget_use(month_tokens, limits.monthly_tokens),
        daily_cost_micros: cost_use(today.cost_micros, limits.daily_cost_micros),
        monthly_cost_micros: cost_use(month_cost, limits.monthly_cost_micros),
    };
    Ok(DashboardView {
        time_zone: zone.name().to_owned(),
        today,
        trend,
        apps,
        health,
        recent_alerts,
        budget,
    })
}

/// Alerts of a tenant, newest first, filtered by status, severity and source;
/// `before` is the cursor (a position from the previous page).
/// Which alerts to list; `None` leaves a field unfiltered.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter<'a> {
    pub status: Option<&'a str>,
    pub severity: Option<&'a str>,
    pub source: Option<&'a str>,
    /// Raised at or after, in microseconds.
    pub from_us: Option<i64>,
    /// Raised before.
    pub to_us: Option<i64>,
}

pub async fn alerts(
    db: &Database,
    tenant: TenantId,
    f: &AlertFilter<'_>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<(i64, AlertRow)>, ProjectionError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        position: i64,
        #[sqlx(flatten)]
        alert: AlertRow,
    }
    let rows: Vec<Row> = on_database!(db, p => sqlx::query_as::<_, Row>(
        "SELECT position, alert_id, source, severity, title, detail, status, raised_at_us FROM rm_alerts \
         WHERE tenant_id = $1 AND (CAST($2 AS TEXT) IS NULL OR status = $2) \
         AND (CAST($3 AS TEXT) IS NULL OR severity = $3) AND (CAST($4 AS TEXT) IS NULL OR source = $4) \
         AND (CAST($5 AS BIGINT) IS NULL OR raised_at_us >= $5) AND (CAST($6 AS BIGINT) IS NULL OR raised_at_us < $6) \
         AND (CAST($7 AS BIGINT) IS NULL OR position < $7) ORDER BY position DESC LIMIT $8"
    )
    .bind(tenant.to_string()).bind(f.status).bind(f.severity).bind(f.source).bind(f.from_us).bind(f.to_us).bind(before).bind(limit)
    .fetch_all(p)
    .await?);
    Ok(rows.into_iter().map(|r| (r.position, r.alert)).collect())
}

/// How many alerts of the tenant are in each status.
pub async fn alert_counts(
    db: &Database,
    tenant: TenantId,
) -> Result<Vec<(String, i64)>, ProjectionError> {
    Ok(on_database!(db, p => sqlx::query_as::<_, (String, i64)>(
        "SELECT status, COUNT(*) FROM rm_alerts WHERE tenant_id = $1 GROUP BY status ORDER BY status"
    ).bind(tenant.to_string()).fetch_all(p).await?))
}

#[cfg(test)]
mod latency_tests {
    use super::*;

    #[test]
    fn a_latency_falls_in_the_bucket_whose_bound_holds_it() {
        for ms in [
            0,
            1,
            2,
            3,
            10,
            11,
            99,
            100,
            101,
            2_877,
            60_000,
            i64::MAX / 2,
        ] {
            let b = latency_bucket(ms);
            assert!(bucket_bound(b) >= ms.max(1), "{ms} ms in bucket {b}");
            if b > 0 {
                assert!(bucket_bound(b - 1) < ms, "{ms} ms belongs lower than {b}");
            }
        }
    }

    #[test]
    fn the_p95_is_at_most_a_tenth_above_the_true_one() {
        // 1 to 1000 ms, one run each: the true p95 is 950 ms.
        let mut buckets: BTreeMap<i32, i64> = BTreeMap::new();
        for ms in 1..=1000 {
            *buckets.entry(latency_bucket(ms)).or_default() += 1;
        }
        let buckets: Vec<(i32, i64)> = buckets.into_iter().collect();
        let p95 = percentile(&buckets, 0.95).unwrap_or_default();
        assert!((950..=1045).contains(&p95), "{p95}");
        assert_eq!(percentile(&[], 0.95), None);
        assert_eq!(
            percentile(&[(latency_bucket(7), 1)], 0.95),
            Some(bucket_bound(latency_bucket(7)))
        );
    }
}
