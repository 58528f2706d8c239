//! The run log read model: LLM runs with filters and keyset pagination, and
//! one run in full (prompt, response, error, session).

use agentledger_domain::ids::TenantId;
use agentledger_projections::run_log::{Filter, Run, RunDetail, RunLog, detail, list};
use axum::Json as Reply;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::extract::{Path, Query};
use crate::problem::Problem;
use crate::read_model::{next_cursor, page_limit, tenant_of, time_range};
use crate::state::AppState;
use agentledger_app::caller::Operator;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(runs))
        .routes(routes!(run))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    pub app_type: Option<String>,
    /// `success`, `failed`, `timeout` or `circuit_open`.
    pub status: Option<String>,
    pub trigger_type: Option<String>,
    /// RFC 3339, inclusive.
    pub from: Option<DateTime<Utc>>,
    /// RFC 3339, exclusive.
    pub to: Option<DateTime<Utc>>,
    pub tenant_id: Option<TenantId>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<i64>,
    /// Items per page, 1 to 500 (50 when absent).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub min_position: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunPage {
    pub items: Vec<Run>,
    pub next_cursor: Option<i64>,
    pub position: u64,
}

#[utoipa::path(
    get,
    path = "/api/v1/runs",
    operation_id = "run_list",
    tag = "read models",
    summary = "The run log, newest first",
    params(RunQuery),
    responses((status = 200, description = "A page of the run log", body = RunPage), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn runs(
    State(state): State<AppState>,
    operator: Operator,
    Query(q): Query<RunQuery>,
) -> Result<Reply<RunPage>, Problem> {
    let (from_us, to_us) = time_range(q.from, q.to)?;
    let filter = Filter {
        tenant_id: tenant_of(&operator, q.tenant_id)?,
        app_type: q.app_type,
        status: q.status,
        trigger_type: q.trigger_type,
        from_us,
        to_us,
    };
    let limit = page_limit(q.limit)?;
    let progress = state.caught_up(&RunLog, q.min_position).await?;
    let items = list(&state.database, &filter, q.cursor, limit).await?;
    let next_cursor = next_cursor(&items, limit, |r| r.position);
    Ok(Reply(RunPage {
        items,
        next_cursor,
        position: progress.position(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DetailQuery {
    pub min_position: Option<u64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/runs/{run_id}",
    operation_id = "run_detail",
    tag = "read models",
    summary = "One run with its prompt, response, error and session",
    params(("run_id" = uuid::Uuid, Path), DetailQuery),
    responses((status = 200, description = "The run", body = RunDetail), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn run(
    State(state): State<AppState>,
    operator: Operator,
    Path(run_id): Path<uuid::Uuid>,
    Query(q): Query<DetailQuery>,
) -> Result<Reply<RunDetail>, Problem> {
    state.caught_up(&RunLog, q.min_position).await?;
    // Admins find a run in any tenant; everyone else only in their own.
    let tenant = operator.principal.tenant_scope().map(|t| t.to_string());
    detail(&state.database, tenant.as_deref(), &run_id.to_string())
        .await?
        .map(Reply)
        .ok_or_else(|| Problem::not_found("run not found"))
}
