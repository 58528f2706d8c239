//! The run log read model: LLM runs with filters and keyset pagination, and
//! one run in full (prompt, response, error, session).

use agentledger_app::caller::Operator;
use agentledger_app::queries::{Page, runs};
use agentledger_domain::ids::TenantId;
use agentledger_projections::run_log::{Run, RunDetail};
use axum::Json as Reply;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::extract::{Path, Query};
use crate::problem::Problem;
use crate::read_model::list_query;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(runs))
        .routes(routes!(run))
}

list_query! {
    pub struct RunQuery {
        pub app_type: Option<String>,
        /// `success`, `failed`, `timeout` or `circuit_open`.
        pub status: Option<String>,
        pub trigger_type: Option<String>,
        /// RFC 3339, inclusive.
        pub from: Option<DateTime<Utc>>,
        /// RFC 3339, exclusive.
        pub to: Option<DateTime<Utc>>,
        /// Admins may read another tenant.
        pub tenant_id: Option<TenantId>,
    }
}

/// A page of the run log, as the document names it.
type RunPage = Page<Run>;

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
    let list = q.list();
    let filter = runs::Filter {
        app_type: q.app_type,
        status: q.status,
        trigger_type: q.trigger_type,
        from: q.from,
        to: q.to,
        tenant_id: q.tenant_id,
    };
    Ok(Reply(runs::list(&state, &operator, filter, list).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DetailQuery {
    /// Wait (at most 5 s) until the log up to this position is in the read model.
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
    let found = runs::detail(&state, &operator, run_id, q.min_position).await?;
    Ok(Reply(found.value))
}
