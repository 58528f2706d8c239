//! The dashboard and the alert list, from the dashboard read model.

use std::collections::BTreeMap;

use agentledger_domain::ids::TenantId;
use agentledger_projections::dashboard::{
    AlertFilter, AlertRow, Dashboard, DashboardView, alert_counts, alerts, read,
};
use agentledger_projections::point_in_time::dashboard_as_of;
use agentledger_store::AsOf;
use axum::Json as Reply;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::extract::Query;
use crate::problem::Problem;
use crate::read_model::{next_cursor, page_limit, tenant_of, time_range};
use crate::state::AppState;
use agentledger_app::caller::Operator;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(dashboard))
        .routes(routes!(alert_list))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DashboardQuery {
    /// Admins may read another tenant.
    pub tenant_id: Option<TenantId>,
    /// Wait (at most 5 s) until the log up to this position is in the read model.
    pub min_position: Option<u64>,
    /// The dashboard as it was at a past moment: a log position, or an RFC
    /// 3339 time (the events recorded at or before it). Rebuilt from the log
    /// for each request, so it costs time in proportion to the tenant's
    /// events up to then.
    #[param(inline, value_type = Option<crate::read_model::AsOfParam>)]
    pub as_of: Option<AsOf>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DashboardAnswer {
    #[serde(flatten)]
    pub dashboard: DashboardView,
    /// How far the read model has applied the log.
    pub position: u64,
    /// With `as_of`: the moment the days were counted from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<DateTime<Utc>>,
}

#[utoipa::path(
    get,
    path = "/api/v1/dashboard",
    tag = "read models",
    summary = "Today, the 7-day trend, apps, health, recent alerts and budget, now or as of a past moment",
    params(DashboardQuery),
    responses((status = 200, description = "The dashboard", body = DashboardAnswer), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn dashboard(
    State(state): State<AppState>,
    operator: Operator,
    Query(query): Query<DashboardQuery>,
) -> Result<Reply<DashboardAnswer>, Problem> {
    let tenant = tenant_of(&operator, query.tenant_id)?;
    if let Some(as_of) = crate::read_model::as_of_in_log(query.as_of)? {
        return past_dashboard(&state, &tenant, as_of).await.map(Reply);
    }
    let progress = state.caught_up(&Dashboard, query.min_position).await?;
    let dashboard = read(&state.database, &tenant, Utc::now()).await?;
    Ok(Reply(DashboardAnswer {
        dashboard,
        position: progress.position(),
        as_of: None,
    }))
}

/// Past dashboards built at once by one server; more wait their turn, so
/// repeated requests cost time, not memory or every core.
static PAST_DASHBOARDS: Semaphore = Semaphore::const_new(2);

async fn past_dashboard(
    state: &AppState,
    tenant: &str,
    as_of: AsOf,
) -> Result<DashboardAnswer, Problem> {
    if let AsOf::Time(t) = as_of
        && t > Utc::now()
    {
        return Err(Problem::unprocessable("`as_of` is in the future"));
    }
    let tenant: Uuid = tenant
        .parse()
        .map_err(|_| Problem::bad_request("not a tenant id"))?;
    let _turn = PAST_DASHBOARDS
        .acquire()
        .await
        .map_err(|_| Problem::unavailable("the server is shutting down"))?;
    let Some(past) = dashboard_as_of(state.store.clone(), tenant, as_of).await? else {
        return Err(Problem::unprocessable("`as_of` is past the end of the log"));
    };
    Ok(DashboardAnswer {
        dashboard: past.dashboard,
        position: past.position,
        as_of: Some(past.at),
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    /// `pending` (never handled), `acknowledged` or `ignored`.
    pub status: Option<String>,
    pub severity: Option<String>,
    pub source: Option<String>,
    /// Raised at or after (RFC 3339).
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Raised before (RFC 3339).
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    pub tenant_id: Option<TenantId>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<i64>,
    /// Items per page, 1 to 500 (50 when absent).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub min_position: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AlertPage {
    pub items: Vec<AlertRow>,
    pub next_cursor: Option<i64>,
    /// Alerts of the tenant per status, whatever the filters.
    pub counts: BTreeMap<String, i64>,
    pub position: u64,
}

#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "alerts",
    summary = "Alerts, newest first, with counts per status",
    params(AlertQuery),
    responses((status = 200, description = "A page of alerts and the counts per status", body = AlertPage), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn alert_list(
    State(state): State<AppState>,
    operator: Operator,
    Query(query): Query<AlertQuery>,
) -> Result<Reply<AlertPage>, Problem> {
    let tenant = tenant_of(&operator, query.tenant_id)?;
    let limit = page_limit(query.limit)?;
    let progress = state.caught_up(&Dashboard, query.min_position).await?;
    let (from_us, to_us) = time_range(query.from, query.to)?;
    let filter = AlertFilter {
        status: query.status.as_deref(),
        severity: query.severity.as_deref(),
        source: query.source.as_deref(),
        from_us,
        to_us,
    };
    let rows = alerts(&state.database, &tenant, &filter, query.cursor, limit).await?;
    let next_cursor = next_cursor(&rows, limit, |(p, _)| *p);
    let counts = alert_counts(&state.database, &tenant)
        .await?
        .into_iter()
        .collect();
    Ok(Reply(AlertPage {
        items: rows.into_iter().map(|(_, a)| a).collect(),
        next_cursor,
        counts,
        position: progress.position(),
    }))
}
