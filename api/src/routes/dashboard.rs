//! The dashboard and the alert list, from the dashboard read model.

use std::collections::BTreeMap;

use agentledger_domain::ids::TenantId;
use agentledger_projections::dashboard::{AlertRow, DashboardView, alert_counts, alerts, read};
use axum::Json as Reply;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Operator;
use crate::extract::Query;
use crate::problem::Problem;
use crate::read_your_writes::reached;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(dashboard))
        .routes(routes!(alert_list))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DashboardQuery {
    /// Admins may read another tenant.
    pub tenant_id: Option<TenantId>,
    /// Wait (at most 5 s) until the log up to this position is in the read model.
    pub min_position: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DashboardAnswer {
    #[serde(flatten)]
    pub dashboard: DashboardView,
    /// How far the read model has applied the log.
    pub position: u64,
}

fn visible_tenant(operator: &Operator, asked: Option<TenantId>) -> Result<String, Problem> {
    let tenant = asked.unwrap_or(operator.tenant_id);
    if operator.sees(tenant) {
        Ok(tenant.to_string())
    } else {
        Err(Problem::not_found("tenant not found"))
    }
}

fn unavailable(e: agentledger_projections::engine::ProjectionError) -> Problem {
    tracing::error!(error = %e, "read model query failed");
    Problem::unavailable("the read model cannot be read right now")
}

#[utoipa::path(
    get,
    path = "/api/v1/dashboard",
    tag = "read models",
    summary = "Today, the 7-day trend, apps, health, recent alerts and budget (UTC days)",
    params(DashboardQuery),
    responses((status = 200, body = DashboardAnswer), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn dashboard(
    State(state): State<AppState>,
    operator: Operator,
    Query(query): Query<DashboardQuery>,
) -> Result<Reply<DashboardAnswer>, Problem> {
    let tenant = visible_tenant(&operator, query.tenant_id)?;
    reached(&state.dashboard_progress, query.min_position).await?;
    let dashboard = read(&state.database, &tenant, chrono::Utc::now())
        .await
        .map_err(unavailable)?;
    Ok(Reply(DashboardAnswer {
        dashboard,
        position: state.dashboard_progress.position(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    /// `pending` (never handled), `acknowledged` or `ignored`.
    pub status: Option<String>,
    pub severity: Option<String>,
    pub source: Option<String>,
    pub tenant_id: Option<TenantId>,
    pub cursor: Option<i64>,
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
    responses((status = 200, body = AlertPage), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn alert_list(
    State(state): State<AppState>,
    operator: Operator,
    Query(query): Query<AlertQuery>,
) -> Result<Reply<AlertPage>, Problem> {
    let tenant = visible_tenant(&operator, query.tenant_id)?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Problem::bad_request("limit must be 1 to 500"));
    }
    reached(&state.dashboard_progress, query.min_position).await?;
    let filters = (
        query.status.as_deref(),
        query.severity.as_deref(),
        query.source.as_deref(),
    );
    let rows = alerts(&state.database, &tenant, filters, query.cursor, limit)
        .await
        .map_err(unavailable)?;
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|(p, _)| *p))
        .flatten();
    let counts = alert_counts(&state.database, &tenant)
        .await
        .map_err(unavailable)?
        .into_iter()
        .collect();
    Ok(Reply(AlertPage {
        items: rows.into_iter().map(|(_, a)| a).collect(),
        next_cursor,
        counts,
        position: state.dashboard_progress.position(),
    }))
}
