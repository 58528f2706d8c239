//! The dashboard and the alert list, from the dashboard read model.

use std::collections::BTreeMap;

use agentledger_domain::ids::TenantId;
use agentledger_projections::dashboard::{
    AlertFilter, AlertRow, Dashboard, DashboardView, alert_counts, alerts, read,
};
use axum::Json as Reply;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Operator;
use crate::extract::Query;
use crate::problem::Problem;
use crate::read_model::{next_cursor, page_limit, tenant_of, time_range};
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
    let tenant = tenant_of(&operator, query.tenant_id)?;
    let progress = state.caught_up(&Dashboard, query.min_position).await?;
    let dashboard = read(&state.database, &tenant, chrono::Utc::now()).await?;
    Ok(Reply(DashboardAnswer {
        dashboard,
        position: progress.position(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
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
