//! The operation log read model: list with filters and keyset pagination,
//! and summaries by agent, action and resource type.

use agentledger_app::caller::Operator;
use agentledger_app::queries::{Page, operations};
use agentledger_domain::ids::{AgentId, TenantId};
use agentledger_projections::operation_log::{Operation, Summary};
use axum::Json as Reply;
use axum::extract::State;
use chrono::{DateTime, Utc};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::extract::Query;
use crate::problem::Problem;
use crate::read_model::list_query;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(operations))
        .routes(routes!(operations_summary))
}

list_query! {
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
    }
    /// The filters of the operation log without its paging: a summary covers
    /// every operation that matches.
    unpaged pub struct SummaryQuery;
}

impl OperationQuery {
    fn filter(self) -> operations::Filter {
        operations::Filter {
            agent_id: self.agent_id,
            action: self.action,
            resource_type: self.resource_type,
            status: self.status,
            from: self.from,
            to: self.to,
            tenant_id: self.tenant_id,
        }
    }
}

/// A page of the operation log, as the document names it.
type OperationPage = Page<Operation>;

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
    Query(q): Query<OperationQuery>,
) -> Result<Reply<OperationPage>, Problem> {
    let list = q.list();
    Ok(Reply(
        operations::list(&state, &operator, q.filter(), list).await?,
    ))
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
    Query(q): Query<SummaryQuery>,
) -> Result<Reply<Summary>, Problem> {
    let q = OperationQuery::from(q);
    let min_position = q.min_position;
    let found = operations::summary(&state, &operator, q.filter(), min_position).await?;
    Ok(Reply(found.value))
}
