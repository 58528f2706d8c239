//! The operation log read model: list with filters and keyset pagination,
//! and summaries by agent, action and resource type.

use agentledger_domain::ids::{AgentId, TenantId};
use agentledger_projections::operation_log::{
    Filter, Operation, OperationLog, Summary, list, summary,
};
use axum::Json as Reply;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::extract::Query;
use crate::problem::Problem;
use crate::read_model::{next_cursor, page_limit, tenant_of, time_range};
use crate::state::AppState;
use agentledger_app::caller::Operator;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(operations))
        .routes(routes!(operations_summary))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OperationQuery {
    pub agent_id: Option<AgentId>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    /// `success` or `failed`.
    pub status: Option<String>,
    /// RFC 3339, inclusive.
    pub from: Option<DateTime<Utc>>,
    /// RFC 3339, exclusive.
    pub to: Option<DateTime<Utc>>,
    /// Admins may read another tenant.
    pub tenant_id: Option<TenantId>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<i64>,
    /// Items per page, 1 to 500 (50 when absent).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Wait (at most 5 s) until the log up to this position is in the read model.
    pub min_position: Option<u64>,
}

impl OperationQuery {
    fn filter(&self, operator: &Operator) -> Result<Filter, Problem> {
        SummaryQuery {
            agent_id: self.agent_id,
            action: self.action.clone(),
            resource_type: self.resource_type.clone(),
            status: self.status.clone(),
            from: self.from,
            to: self.to,
            tenant_id: self.tenant_id,
            min_position: self.min_position,
        }
        .filter(operator)
    }
}

/// The filters of the operation log without its paging: a summary covers
/// every operation that matches.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    pub agent_id: Option<AgentId>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    /// `success` or `failed`.
    pub status: Option<String>,
    /// RFC 3339, inclusive.
    pub from: Option<DateTime<Utc>>,
    /// RFC 3339, exclusive.
    pub to: Option<DateTime<Utc>>,
    /// Admins may read another tenant.
    pub tenant_id: Option<TenantId>,
    /// Wait (at most 5 s) until the log up to this position is in the read model.
    pub min_position: Option<u64>,
}

impl SummaryQuery {
    fn filter(&self, operator: &Operator) -> Result<Filter, Problem> {
        let (from_us, to_us) = time_range(self.from, self.to)?;
        Ok(Filter {
            tenant_id: tenant_of(operator, self.tenant_id)?,
            agent_id: self.agent_id.map(|id| id.to_string()),
            action: self.action.clone(),
            resource_type: self.resource_type.clone(),
            status: self.status.clone(),
            from_us,
            to_us,
        })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OperationPage {
    pub items: Vec<Operation>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<i64>,
    /// How far the read model has applied the log.
    pub position: u64,
}

#[utoipa::path(
    get,
    path = "/api/v1/operations",
    operation_id = "operation_list",
    tag = "read models",
    summary = "The operation log, newest first",
    params(OperationQuery),
    responses((status = 200, description = "A page of the operation log", body = OperationPage), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn operations(
    State(state): State<AppState>,
    operator: Operator,
    Query(query): Query<OperationQuery>,
) -> Result<Reply<OperationPage>, Problem> {
    let filter = query.filter(&operator)?;
    let limit = page_limit(query.limit)?;
    let progress = state.caught_up(&OperationLog, query.min_position).await?;
    let items = list(&state.database, &filter, query.cursor, limit).await?;
    let next_cursor = next_cursor(&items, limit, |o| o.position);
    Ok(Reply(OperationPage {
        items,
        next_cursor,
        position: progress.position(),
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/operations/summary",
    tag = "read models",
    summary = "Operation totals by agent, and the top actions and resource types",
    params(SummaryQuery),
    responses((status = 200, description = "The totals", body = Summary), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn operations_summary(
    State(state): State<AppState>,
    operator: Operator,
    Query(query): Query<SummaryQuery>,
) -> Result<Reply<Summary>, Problem> {
    let filter = query.filter(&operator)?;
    state.caught_up(&OperationLog, query.min_position).await?;
    Ok(Reply(summary(&state.database, &filter).await?))
}
