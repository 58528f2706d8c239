//! Executions: a published version of a workflow run with an input
//! (operators start, cancel, pause and resume them; operators and agents
//! read them, with their steps, timings, tokens and cost).

use agentledger_app::caller::{Caller, Operator};
use agentledger_app::executions::{self, ExecutionDetail};
use agentledger_app::queries::Page;
use agentledger_domain::execution::ExecutionStatus;
use agentledger_projections::executions::ExecutionRow;
use axum::Json as Reply;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::extract::{Json, Path, Query};
use crate::problem::Problem;
use crate::read_model::list_query;
use crate::routes::agents::Reason;
use crate::routes::operators::Done;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start, list))
        .routes(routes!(detail))
        .routes(routes!(cancel))
        .routes(routes!(pause))
        .routes(routes!(resume))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewExecution {
    pub workflow_id: Uuid,
    /// The published version to run: an execution always names one.
    #[schema(minimum = 1)]
    pub version: u32,
    /// What its steps' `$input…` mappings read (at most 256 KiB).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub input: Value,
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct ExecutionStarted {
    /// Also the correlation id of every event it causes.
    pub execution_id: Uuid,
    pub position: u64,
}

/// Starts an execution: the steps nothing waits for start at once (a task
/// for an agent step, which only agents of the step's kind may claim; a
/// call for a tool step), each next step when the steps before it have
/// succeeded, with their outputs mapped into its input.
#[utoipa::path(
    post,
    path = "/api/v1/executions",
    operation_id = "start_execution",
    tag = "executions",
    summary = "Start an execution of a workflow version",
    request_body = NewExecution,
    responses((status = 201, description = "Started", body = ExecutionStarted), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn start(
    State(state): State<AppState>,
    operator: Operator,
    Json(body): Json<NewExecution>,
) -> Result<(StatusCode, Reply<ExecutionStarted>), Problem> {
    let started = executions::start(
        &state,
        &operator,
        body.workflow_id,
        body.version,
        body.input,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Reply(ExecutionStarted {
            execution_id: started.execution_id,
            position: started.position,
        }),
    ))
}

list_query! {
    pub struct ExecutionQuery {
        /// Executions of this workflow only.
        pub workflow_id: Option<Uuid>,
        /// Executions in this status only.
        #[param(inline)]
        pub status: Option<ExecutionStatus>,
    }
}

/// A page of executions, as the document names it.
type ExecutionPage = Page<ExecutionRow>;

#[utoipa::path(
    get,
    path = "/api/v1/executions",
    operation_id = "executions",
    tag = "executions",
    summary = "Executions, newest first",
    params(ExecutionQuery),
    responses((status = 200, description = "A page of executions", body = ExecutionPage), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ExecutionQuery>,
) -> Result<Reply<ExecutionPage>, Problem> {
    let list = q.list();
    Ok(Reply(
        executions::list(&state, &caller, q.workflow_id, q.status, list).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/executions/{execution_id}",
    operation_id = "execution",
    tag = "executions",
    summary = "An execution with its steps, timings, tokens and cost",
    params(("execution_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The execution", body = ExecutionDetail), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(execution_id): Path<Uuid>,
) -> Result<Reply<ExecutionDetail>, Problem> {
    Ok(Reply(
        executions::detail(&state, &caller, execution_id).await?,
    ))
}

/// Stops handing out steps; the open tasks of its steps are cancelled.
#[utoipa::path(
    post,
    path = "/api/v1/executions/{execution_id}/cancel",
    operation_id = "cancel_execution",
    tag = "executions",
    summary = "Cancel an execution",
    params(("execution_id" = uuid::Uuid, Path)),
    request_body(content = Option<Reason>, description = "Optional"),
    responses((status = 200, description = "Cancelled", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn cancel(
    State(state): State<AppState>,
    operator: Operator,
    Path(execution_id): Path<Uuid>,
    body: Option<Json<Reason>>,
) -> Result<Reply<Done>, Problem> {
    let reason = Reason::or(body, "cancelled by an operator");
    let position = executions::cancel(&state, &operator, execution_id, reason).await?;
    Ok(Reply(Done { position }))
}

/// No step starts until it is resumed; steps under way finish.
#[utoipa::path(
    post,
    path = "/api/v1/executions/{execution_id}/pause",
    operation_id = "pause_execution",
    tag = "executions",
    summary = "Pause an execution",
    params(("execution_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "Paused", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn pause(
    State(state): State<AppState>,
    operator: Operator,
    Path(execution_id): Path<Uuid>,
) -> Result<Reply<Done>, Problem> {
    let position = executions::pause(&state, &operator, execution_id).await?;
    Ok(Reply(Done { position }))
}

/// Starts the steps that became ready while it was paused.
#[utoipa::path(
    post,
    path = "/api/v1/executions/{execution_id}/resume",
    operation_id = "resume_execution",
    tag = "executions",
    summary = "Resume a paused execution",
    params(("execution_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "Resumed", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn resume(
    State(state): State<AppState>,
    operator: Operator,
    Path(execution_id): Path<Uuid>,
) -> Result<Reply<Done>, Problem> {
    let position = executions::resume(&state, &operator, execution_id).await?;
    Ok(Reply(Done { position }))
}
