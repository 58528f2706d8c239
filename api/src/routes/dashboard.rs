//! The dashboard and the alert list, from the dashboard read model.

use std::collections::BTreeMap;

use agentledger_app::caller::Operator;
use agentledger_app::queries::budgets::BudgetStatus;
use agentledger_app::queries::dashboard::{self as queries, Filter};
use agentledger_domain::ids::TenantId;
use agentledger_projections::dashboard::{AlertRow, DashboardView};
use agentledger_store::AsOf;
use axum::Json as Reply;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::extract::Query;
use crate::problem::Problem;
use crate::read_model::list_query;
use crate::state::AppState;

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
    /// The tenant's budgets (its own, its agents', its models'), newest
    /// first, at most 50, each with its use now (`GET /api/v1/budgets` pages
    /// through all). Left out of a past dashboard, which shows the tenant's
    /// own budget only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budgets: Option<Vec<BudgetStatus>>,
}

#[utoipa::path(
    get,
    path = "/api/v1/dashboard",
    tag = "read models",
    summary = "Today, the 7-day trend, apps, health, recent alerts and budgets, now or as of a past moment",
    params(DashboardQuery),
    responses((status = 200, description = "The dashboard", body = DashboardAnswer), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn dashboard(
    State(state): State<AppState>,
    operator: Operator,
    Query(q): Query<DashboardQuery>,
) -> Result<Reply<DashboardAnswer>, Problem> {
    let found = queries::dashboard(&state, &operator, q.tenant_id, q.min_position, q.as_of).await?;
    Ok(Reply(DashboardAnswer {
        dashboard: found.view,
        position: found.position,
        as_of: found.as_of,
        budgets: found.budgets,
    }))
}

list_query! {
    pub struct AlertQuery {
        /// `pending` (never handled), `acknowledged` or `ignored`.
        pub status: Option<String>,
        pub severity: Option<String>,
        pub source: Option<String>,
        /// Raised at or after (RFC 3339).
        pub from: Option<DateTime<Utc>>,
        /// Raised before (RFC 3339).
        pub to: Option<DateTime<Utc>>,
        /// Admins may read another tenant.
        pub tenant_id: Option<TenantId>,
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AlertPage {
    pub items: Vec<AlertRow>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<i64>,
    /// Alerts of the tenant per status, whatever the filters.
    pub counts: BTreeMap<String, i64>,
    /// How far the read model has applied the log.
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
    Query(q): Query<AlertQuery>,
) -> Result<Reply<AlertPage>, Problem> {
    let list = q.list();
    let filter = Filter {
        status: q.status,
        severity: q.severity,
        source: q.source,
        from: q.from,
        to: q.to,
        tenant_id: q.tenant_id,
    };
    let found = queries::alert_list(&state, &operator, filter, list).await?;
    Ok(Reply(AlertPage {
        items: found.page.items,
        next_cursor: found.page.next_cursor,
        counts: found.counts,
        position: found.page.position,
    }))
}
