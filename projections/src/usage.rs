//! Budget and usage: tokens, calls and cost of LLM runs per day of the
//! tenant (in its time zone, as the dashboard counts), summed per day or
//! month and per tenant, agent or model over a date range.

use std::collections::BTreeMap;

use agentledger_domain::budget::BudgetScope;
use agentledger_domain::calendar;
use agentledger_domain::ids::TenantId;
use agentledger_domain::reports::{ReportEvent, ReportEventType};
use agentledger_domain::tenant::TenantEvent;
use agentledger_store::{Database, on_database};
use serde::{Deserialize, Serialize};

use crate::engine::{
    Projection, ProjectionError, add_capped, add_capped_sql, clamp, decode_event, sum_capped_sql,
};
use crate::{insert_rows, sql_projection};

pub struct Usage;

impl Projection for Usage {
    fn name(&self) -> &'static str {
        "usage"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_usage", ZONES]
    }
}

/// The tenants' zones as usage counts days in them.
pub const ZONES: &str = "rm_usage_zones";

/// One row's sums: calls, prompt tokens, completion tokens, cost.
type UsageSums = (i64, i64, i64, i64);

sql_projection!(Usage, |_this, conn, events| {
    // Folded first: one row per tenant, day, agent and model in the batch.
    let mut sums: BTreeMap<(String, String, String, String), UsageSums> = BTreeMap::new();
    let mut zones = crate::zones::Seen::new();
    for event in events {
        let tenant = event.tenant_id.to_string();
        if let Some(TenantEvent::TenantTimeZoneSet { time_zone }) =
            decode_event::<TenantEvent>(event)?
        {
            crate::remember_zone!(conn, zones, ZONES, &tenant, time_zone.as_deref());
            continue;
        }
        // Actions are report events too: not decoded for nothing.
        if event.event_type != ReportEventType::LlmRunRecorded.into_str() {
            continue;
        }
        let Some(ReportEvent::LlmRunRecorded {
            agent_id,
            model,
            prompt_tokens,
            completion_tokens,
            cost_micros,
            ..
        }) = decode_event::<ReportEvent>(event)?
        else {
            continue;
        };
        let zone = crate::zone_of!(conn, zones, ZONES, &tenant);
        let key = (
            tenant,
            calendar::day(zone, event.occurred_at),
            agent_id.to_string(),
            model.clone(),
        );
        let sum = sums.entry(key).or_default();
        sum.0 += 1;
        sum.1 = add_capped(sum.1, clamp(*prompt_tokens));
        sum.2 = add_capped(sum.2, clamp(*completion_tokens));
        sum.3 = add_capped(sum.3, *cost_micros);
    }
    let rows: Vec<_> = sums.into_iter().collect();
    insert_rows!(
        conn,
        "INSERT INTO rm_usage (tenant_id, day, agent_id, model, calls, prompt_tokens, completion_tokens, cost_micros) ",
        rows,
        format!(
            " ON CONFLICT (tenant_id, day, agent_id, model) DO UPDATE SET {}",
            add_capped_sql(
                "rm_usage",
                &["calls", "prompt_tokens", "completion_tokens", "cost_micros"]
            )
        ),
        |row, ((tenant, day, agent, model), (calls, prompt, completion, cost))| {
            row.push_bind(tenant.as_str())
                .push_bind(day.as_str())
                .push_bind(agent.as_str())
                .push_bind(model.as_str())
                .push_bind(*calls)
                .push_bind(*prompt)
                .push_bind(*completion)
                .push_bind(*cost);
        }
    );
    Ok(())
});

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Month,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grouping {
    Tenant,
    Agent,
    Model,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct UsageRow {
    /// `YYYY-MM-DD` or `YYYY-MM`.
    pub period: String,
    /// The agent id or model; the tenant id when grouped by tenant.
    pub key: String,
    pub calls: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    #[serde(rename = "cost_usd", serialize_with = "crate::wire::usd")]
    #[cfg_attr(feature = "openapi", schema(value_type = f64))]
    pub cost_micros: i64,
}

/// Usage of the tenant from `from` to `to` (both `YYYY-MM-DD`, inclusive),
/// oldest period first, then by key.
pub async fn history(
    db: &Database,
    tenant: TenantId,
    from: &str,
    to: &str,
    period: Period,
    by: Grouping,
) -> Result<Vec<UsageRow>, ProjectionError> {
    let period = match period {
        Period::Day => "day",
        Period::Month => "SUBSTR(day, 1, 7)",
    };
    let key = match by {
        Grouping::Tenant => "tenant_id",
        Grouping::Agent => "agent_id",
        Grouping::Model => "model",
    };
    let sum = |column| sum_capped_sql(db, column);
    let sql = format!(
        "SELECT {period} AS period, {key} AS key, {} AS calls, {} AS prompt_tokens, {} AS completion_tokens, \
         {} AS total_tokens, {} AS cost_micros \
         FROM rm_usage WHERE tenant_id = $1 AND day >= $2 AND day <= $3 GROUP BY {period}, {key} ORDER BY 1, 2",
        sum("calls"),
        sum("prompt_tokens"),
        sum("completion_tokens"),
        sum("prompt_tokens + completion_tokens"),
        sum("cost_micros"),
    );
    Ok(
        on_database!(db, p => sqlx::query_as::<_, UsageRow>(sqlx::AssertSqlSafe(sql.clone()))
        .bind(tenant.to_string()).bind(from).bind(to)
        .fetch_all(p)
        .await?),
    )
}

/// Tokens and cost (micro-dollars): (tokens, cost).
pub type Spent = (i64, i64);

/// Tokens and cost of the day `$4`, then of all the rows read (the month).
fn day_and_month_sums(db: &Database) -> String {
    [
        "CASE WHEN day = $4 THEN prompt_tokens + completion_tokens ELSE 0 END",
        "CASE WHEN day = $4 THEN cost_micros ELSE 0 END",
        "prompt_tokens + completion_tokens",
        "cost_micros",
    ]
    .map(|column| sum_capped_sql(db, column))
    .join(", ")
}

/// What the tenant (or the one agent or model `scope` names) spent on `day`
/// and in `month` (`YYYY-MM-DD`, `YYYY-MM`, the tenant's): one indexed range
/// of the month's rows.
pub async fn spent(
    db: &Database,
    tenant: TenantId,
    scope: &BudgetScope,
    month: &str,
    day: &str,
) -> Result<(Spent, Spent), ProjectionError> {
    let (agent, model) = match scope {
        BudgetScope::Tenant => (None, None),
        BudgetScope::Agent { agent_id } => (Some(agent_id.to_string()), None),
        BudgetScope::Model { model } => (None, Some(model.as_str())),
    };
    let sql = format!(
        "SELECT {} FROM rm_usage WHERE tenant_id = $1 AND day >= $2 AND day <= $3 \
         AND (CAST($5 AS TEXT) IS NULL OR agent_id = $5) AND (CAST($6 AS TEXT) IS NULL OR model = $6)",
        day_and_month_sums(db),
    );
    // Days sort as text: the month's all fall between its first and a 31st.
    let (first, last) = (format!("{month}-01"), format!("{month}-31"));
    let (day_tokens, day_cost, month_tokens, month_cost): (i64, i64, i64, i64) = on_database!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(tenant.to_string()).bind(&first).bind(&last).bind(day).bind(agent.clone()).bind(model)
        .fetch_one(p)
        .await?);
    Ok(((day_tokens, day_cost), (month_tokens, month_cost)))
}

/// What one agent spent on one model on `day` and in `month`.
#[derive(Debug, Clone, PartialEq)]
pub struct Spending {
    pub agent_id: String,
    pub model: String,
    pub today: Spent,
    pub this_month: Spent,
}

/// What each agent of the tenant spent on each model on `day` and in
/// `month`: every budget's use from one read.
pub async fn spending(
    db: &Database,
    tenant: TenantId,
    month: &str,
    day: &str,
) -> Result<Vec<Spending>, ProjectionError> {
    let sql = format!(
        "SELECT agent_id, model, {} FROM rm_usage \
         WHERE tenant_id = $1 AND day >= $2 AND day <= $3 GROUP BY agent_id, model",
        day_and_month_sums(db),
    );
    let (first, last) = (format!("{month}-01"), format!("{month}-31"));
    let rows: Vec<(String, String, i64, i64, i64, i64)> = on_database!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(tenant.to_string()).bind(&first).bind(&last).bind(day)
        .fetch_all(p)
        .await?);
    Ok(rows
        .into_iter()
        .map(|(agent_id, model, dt, dc, mt, mc)| Spending {
            agent_id,
            model,
            today: (dt, dc),
            this_month: (mt, mc),
        })
        .collect())
}
