//! Tasks: created by operators (or agents allowed to), claimed by polling
//! agents, reported on and finished by the claiming agent.

use agentledger_app::event_filter::comma_list;
use agentledger_app::queries::{ListParams, Page};
use agentledger_app::tasks::{self, Claim, OutputChunk, TaskRequest};
use agentledger_commands::tasks::Created;
use agentledger_domain::ids::{AgentId, TaskId, TenantId};
use agentledger_domain::task::{StepAttempt, Task, TaskStatus};
use axum::Json as Reply;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::extract::{Json, Path, Query};
use crate::problem::Problem;
use crate::routes::operators::Done;
use crate::state::AppState;
use agentledger_app::caller::{AgentCaller, Caller, Operator};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_task))
        .routes(routes!(task_detail))
        .routes(routes!(task_output))
        .routes(routes!(cancel))
        .routes(routes!(retry_task))
        .routes(routes!(progress))
        .routes(routes!(complete))
        .routes(routes!(fail))
        .routes(routes!(next_task))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    pub task_type: String,
    #[serde(default)]
    pub input: Value,
    #[serde(default)]
    pub priority: i32,
    pub callback_url: Option<String>,
    pub dedup_key: Option<String>,
    #[serde(default)]
    pub forced: bool,
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct TaskCreated {
    /// Absent when no task was created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<TaskId>,
    /// True when the dedup key was held: no task was created.
    pub skipped_duplicate: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<TaskId>,
    pub position: u64,
}

#[utoipa::path(
    post,
    path = "/api/v1/tasks",
    tag = "tasks",
    summary = "Create a task",
    request_body = CreateTask,
    responses((status = 201, description = "Created", body = TaskCreated), (status = 200, description = "Skipped as a duplicate", body = TaskCreated), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn create_task(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateTask>,
) -> Result<Response, Problem> {
    let asked = TaskRequest {
        task_type: body.task_type,
        input: body.input,
        priority: body.priority,
        callback_url: body.callback_url,
        dedup_key: body.dedup_key,
        forced: body.forced,
    };
    let response = match tasks::create(&state, &caller, asked).await? {
        Created::Task { task_id, position } => (
            StatusCode::CREATED,
            Reply(TaskCreated {
                task_id: Some(task_id),
                skipped_duplicate: false,
                duplicate_of: None,
                position,
            }),
        ),
        Created::SkippedDuplicate {
            duplicate_of,
            position,
        } => (
            StatusCode::OK,
            Reply(TaskCreated {
                task_id: None,
                skipped_duplicate: true,
                duplicate_of: Some(duplicate_of),
                position,
            }),
        ),
    };
    Ok(response.into_response())
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct TaskView {
    pub task_id: TaskId,
    pub tenant_id: TenantId,
    pub task_type: String,
    pub priority: i32,
    pub status: TaskStatus,
    pub claimed_by: Option<AgentId>,
    pub progress: u8,
    pub retry_of: Option<TaskId>,
    pub retried_as: Option<TaskId>,
    /// Only agents of this kind may claim it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_kind: Option<String>,
    /// The attempt of an execution's step it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<StepAttempt>,
    pub version: Option<u64>,
}

fn view(task_id: TaskId, task: Task, version: Option<u64>) -> TaskView {
    TaskView {
        task_id,
        tenant_id: task.tenant_id,
        task_type: task.task_type,
        priority: task.priority,
        status: task.status,
        claimed_by: task.claimed_by,
        progress: task.progress,
        retry_of: task.retry_of,
        retried_as: task.retried_as,
        agent_kind: task.agent_kind,
        step: task.step,
        version,
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/tasks/{task_id}",
    tag = "tasks",
    summary = "A task",
    params(("task_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The task", body = TaskView), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn task_detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(task_id): Path<TaskId>,
) -> Result<Reply<TaskView>, Problem> {
    let seen = tasks::detail(&state, &caller, task_id).await?;
    Ok(Reply(view(task_id, seen.task, seen.version)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OutputQuery {
    /// The `next_cursor` of the previous page: the chunks after it.
    pub cursor: Option<i64>,
    /// Chunks per page, 1 to 500 (50 when absent).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// A page of a task's output, as the document names it.
type OutputPage = Page<OutputChunk>;

/// The output chunks the task's agent sent with its progress reports, in
/// the order they were reported. The live stream (`/api/v1/stream?stream=task-{id}`)
/// delivers the same reports as they arrive.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{task_id}/output",
    operation_id = "task_output",
    tag = "tasks",
    summary = "A task's output, first chunk first",
    params(("task_id" = uuid::Uuid, Path), OutputQuery),
    responses((status = 200, description = "A page of the output", body = OutputPage), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn task_output(
    State(state): State<AppState>,
    caller: Caller,
    Path(task_id): Path<TaskId>,
    Query(q): Query<OutputQuery>,
) -> Result<Reply<OutputPage>, Problem> {
    let list = ListParams {
        cursor: q.cursor,
        limit: q.limit,
        min_position: None,
    };
    Ok(Reply(tasks::output(&state, &caller, task_id, list).await?))
}

#[derive(Debug, utoipa::ToSchema, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelTask {
    pub reason: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/tasks/{task_id}/cancel",
    operation_id = "cancel_task",
    tag = "tasks",
    summary = "Cancel a task",
    params(("task_id" = uuid::Uuid, Path)),
    request_body(content = Option<CancelTask>, description = "Optional"),
    responses((status = 200, description = "Cancelled", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn cancel(
    State(state): State<AppState>,
    operator: Operator,
    Path(task_id): Path<TaskId>,
    body: Option<Json<CancelTask>>,
) -> Result<Reply<Done>, Problem> {
    let reason = body.and_then(|Json(b)| b.reason);
    let position = tasks::cancel(&state, &operator, task_id, reason).await?;
    Ok(Reply(Done { position }))
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct Retried {
    pub task_id: TaskId,
    pub retry_of: TaskId,
    pub position: u64,
}

#[utoipa::path(
    post,
    path = "/api/v1/tasks/{task_id}/retry",
    tag = "tasks",
    summary = "Retry a failed or cancelled task",
    params(("task_id" = uuid::Uuid, Path)),
    responses((status = 201, description = "A new task, a copy of the old one", body = Retried), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn retry_task(
    State(state): State<AppState>,
    operator: Operator,
    Path(task_id): Path<TaskId>,
) -> Result<(StatusCode, Reply<Retried>), Problem> {
    let (new_id, position) = tasks::retry(&state, &operator, task_id).await?;
    Ok((
        StatusCode::CREATED,
        Reply(Retried {
            task_id: new_id,
            retry_of: task_id,
            position,
        }),
    ))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Progress {
    #[schema(maximum = 100)]
    pub percent: u8,
    pub message: Option<String>,
    pub output_chunk: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/tasks/{task_id}/progress",
    operation_id = "task_progress",
    tag = "tasks",
    summary = "Report progress",
    params(("task_id" = uuid::Uuid, Path)),
    request_body = Progress,
    responses((status = 200, description = "Recorded", body = Done), crate::openapi::Problems),
    security(("agent_token" = [])),
)]
async fn progress(
    State(state): State<AppState>,
    caller: AgentCaller,
    Path(task_id): Path<TaskId>,
    Json(body): Json<Progress>,
) -> Result<Reply<Done>, Problem> {
    let position = tasks::progress(
        &state,
        &caller,
        task_id,
        body.percent,
        body.message,
        body.output_chunk,
    )
    .await?;
    Ok(Reply(Done { position }))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Complete {
    #[serde(default)]
    pub result: Value,
}

#[utoipa::path(
    post,
    path = "/api/v1/tasks/{task_id}/complete",
    operation_id = "complete_task",
    tag = "tasks",
    summary = "Complete a task",
    params(("task_id" = uuid::Uuid, Path)),
    request_body = Complete,
    responses((status = 200, description = "Completed", body = Done), crate::openapi::Problems),
    security(("agent_token" = [])),
)]
async fn complete(
    State(state): State<AppState>,
    caller: AgentCaller,
    Path(task_id): Path<TaskId>,
    Json(body): Json<Complete>,
) -> Result<Reply<Done>, Problem> {
    let position = tasks::complete(&state, &caller, task_id, body.result).await?;
    Ok(Reply(Done { position }))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fail {
    pub error: String,
    #[serde(default)]
    pub retryable: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/tasks/{task_id}/fail",
    operation_id = "fail_task",
    tag = "tasks",
    summary = "Fail a task",
    params(("task_id" = uuid::Uuid, Path)),
    request_body = Fail,
    responses((status = 200, description = "Failed", body = Done), crate::openapi::Problems),
    security(("agent_token" = [])),
)]
async fn fail(
    State(state): State<AppState>,
    caller: AgentCaller,
    Path(task_id): Path<TaskId>,
    Json(body): Json<Fail>,
) -> Result<Reply<Done>, Problem> {
    let position = tasks::fail(&state, &caller, task_id, body.error, body.retryable).await?;
    Ok(Reply(Done { position }))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextQuery {
    /// Comma-separated task types; any type when absent.
    pub types: Option<String>,
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct Claimed {
    #[serde(flatten)]
    pub task: TaskView,
    pub input: Value,
    pub position: u64,
}

/// Carries the position of an answer without a body.
pub const POSITION_HEADER: &str = "agentledger-position";

/// Hands the agent the next pending task (204 when there is none). Each task
/// goes to exactly one agent however many poll at once.
#[utoipa::path(
    get,
    path = "/api/v1/agents/me/tasks/next",
    tag = "tasks",
    summary = "Claim the next pending task",
    responses(
        (status = 200, description = "The claimed task", body = Claimed),
        (status = 204, description = "No pending task", headers((
            "Agentledger-Position" = u64,
            description = "The log position this answer reflects: pass it as `min_position`"
        ))),
        crate::openapi::Problems,
    ),
    security(("agent_token" = [])),
)]
async fn next_task(
    State(state): State<AppState>,
    caller: AgentCaller,
    Query(query): Query<NextQuery>,
) -> Result<Response, Problem> {
    let types: Vec<String> = comma_list(query.types.as_deref());
    Ok(match tasks::claim_next(&state, &caller, &types).await? {
        Claim::Task {
            task_id,
            task,
            version,
            input,
            position,
        } => Reply(Claimed {
            task: view(task_id, *task, version),
            input,
            position,
        })
        .into_response(),
        // An empty answer has no body: its position goes in a header.
        Claim::None { position } => (
            StatusCode::NO_CONTENT,
            [(POSITION_HEADER, position.to_string())],
        )
            .into_response(),
    })
}
