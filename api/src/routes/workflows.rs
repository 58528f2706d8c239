//! Workflows: drafts of steps joined into a DAG, published as immutable
//! numbered versions (operators change them; operators and agents read).

use agentledger_app::caller::{Caller, Operator};
use agentledger_app::queries::Page;
use agentledger_app::workflows;
use agentledger_domain::workflow::{SpecDiff, WorkflowSpec};
use agentledger_projections::workflows::WorkflowRow;
use axum::Json as Reply;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::extract::{Json, Path, Query};
use crate::problem::Problem;
use crate::read_model::list_query;
use crate::routes::operators::Done;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(detail))
        .routes(routes!(edit_draft))
        .routes(routes!(publish))
        .routes(routes!(archive))
        .routes(routes!(version))
        .routes(routes!(compare))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWorkflow {
    pub name: String,
    /// Its first draft.
    pub draft: WorkflowSpec,
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct WorkflowCreated {
    pub workflow_id: Uuid,
    pub position: u64,
}

/// Creates a workflow with its first draft: steps (each done by an agent of
/// a kind or by one of the tenant's tools, with an input mapping, a timeout
/// and retries) and edges forming a DAG. A cycle is refused with its path.
#[utoipa::path(
    post,
    path = "/api/v1/workflows",
    operation_id = "create_workflow",
    tag = "workflows",
    summary = "Create a workflow",
    request_body = NewWorkflow,
    responses((status = 201, description = "Created", body = WorkflowCreated), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn create(
    State(state): State<AppState>,
    operator: Operator,
    Json(body): Json<NewWorkflow>,
) -> Result<(StatusCode, Reply<WorkflowCreated>), Problem> {
    let made = workflows::create(&state, &operator, body.name, body.draft).await?;
    Ok((
        StatusCode::CREATED,
        Reply(WorkflowCreated {
            workflow_id: made.workflow_id,
            position: made.position,
        }),
    ))
}

list_query! {
    pub struct WorkflowQuery {
        /// Archived workflows too.
        pub archived: Option<bool>,
    }
}

/// A page of workflows, as the document names it.
type WorkflowPage = Page<WorkflowRow>;

#[utoipa::path(
    get,
    path = "/api/v1/workflows",
    operation_id = "workflows",
    tag = "workflows",
    summary = "Workflows, newest first",
    params(WorkflowQuery),
    responses((status = 200, description = "A page of workflows", body = WorkflowPage), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<WorkflowQuery>,
) -> Result<Reply<WorkflowPage>, Problem> {
    let list = q.list();
    let archived = q.archived.unwrap_or(false);
    Ok(Reply(
        workflows::list(&state, &caller, archived, list).await?,
    ))
}

#[derive(Debug, utoipa::ToSchema, Serialize)]
pub struct WorkflowView {
    pub workflow_id: Uuid,
    pub name: String,
    pub draft: WorkflowSpec,
    /// The last version published; 0 before the first.
    pub latest_version: u32,
    pub archived: bool,
}

#[utoipa::path(
    get,
    path = "/api/v1/workflows/{workflow_id}",
    operation_id = "workflow",
    tag = "workflows",
    summary = "A workflow and its draft",
    params(("workflow_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The workflow", body = WorkflowView), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(workflow_id): Path<Uuid>,
) -> Result<Reply<WorkflowView>, Problem> {
    let workflow = workflows::detail(&state, &caller, workflow_id).await?;
    Ok(Reply(WorkflowView {
        workflow_id,
        latest_version: u32::try_from(workflow.versions.len()).unwrap_or(u32::MAX),
        name: workflow.name,
        draft: workflow.draft,
        archived: workflow.archived,
    }))
}

/// Replaces the draft (versions already published do not change).
#[utoipa::path(
    put,
    path = "/api/v1/workflows/{workflow_id}/draft",
    operation_id = "edit_workflow_draft",
    tag = "workflows",
    summary = "Edit a workflow's draft",
    params(("workflow_id" = uuid::Uuid, Path)),
    request_body = WorkflowSpec,
    responses((status = 200, description = "Edited", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn edit_draft(
    State(state): State<AppState>,
    operator: Operator,
    Path(workflow_id): Path<Uuid>,
    Json(draft): Json<WorkflowSpec>,
) -> Result<Reply<Done>, Problem> {
    let position = workflows::edit_draft(&state, &operator, workflow_id, draft).await?;
    Ok(Reply(Done { position }))
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct WorkflowPublished {
    pub version: u32,
    pub position: u64,
}

/// Publishes the draft as the next version, immutable from then on;
/// publishing a draft that is the latest version already makes none.
#[utoipa::path(
    post,
    path = "/api/v1/workflows/{workflow_id}/publish",
    operation_id = "publish_workflow",
    tag = "workflows",
    summary = "Publish a workflow's draft",
    params(("workflow_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The version", body = WorkflowPublished), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn publish(
    State(state): State<AppState>,
    operator: Operator,
    Path(workflow_id): Path<Uuid>,
) -> Result<Reply<WorkflowPublished>, Problem> {
    let done = workflows::publish(&state, &operator, workflow_id).await?;
    Ok(Reply(WorkflowPublished {
        version: done.version,
        position: done.position,
    }))
}

/// No new execution starts from an archived workflow; its versions stay
/// readable.
#[utoipa::path(
    post,
    path = "/api/v1/workflows/{workflow_id}/archive",
    operation_id = "archive_workflow",
    tag = "workflows",
    summary = "Archive a workflow",
    params(("workflow_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "Archived", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn archive(
    State(state): State<AppState>,
    operator: Operator,
    Path(workflow_id): Path<Uuid>,
) -> Result<Reply<Done>, Problem> {
    let position = workflows::archive(&state, &operator, workflow_id).await?;
    Ok(Reply(Done { position }))
}

#[utoipa::path(
    get,
    path = "/api/v1/workflows/{workflow_id}/versions/{version}",
    operation_id = "workflow_version",
    tag = "workflows",
    summary = "One published version",
    params(("workflow_id" = uuid::Uuid, Path), ("version" = u32, Path, minimum = 1)),
    responses((status = 200, description = "The version's steps and edges", body = WorkflowSpec), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn version(
    State(state): State<AppState>,
    caller: Caller,
    Path((workflow_id, version)): Path<(Uuid, u32)>,
) -> Result<Reply<WorkflowSpec>, Problem> {
    Ok(Reply(
        workflows::version(&state, &caller, workflow_id, version).await?,
    ))
}

#[derive(Debug, utoipa::IntoParams, Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CompareQuery {
    /// The older version.
    #[param(minimum = 1)]
    pub from: u32,
    /// The newer version.
    #[param(minimum = 1)]
    pub to: u32,
}

/// What changed between two versions: steps added, removed and changed,
/// edges added and removed.
#[utoipa::path(
    get,
    path = "/api/v1/workflows/{workflow_id}/diff",
    operation_id = "workflow_diff",
    tag = "workflows",
    summary = "Compare two versions",
    params(("workflow_id" = uuid::Uuid, Path), CompareQuery),
    responses((status = 200, description = "The differences", body = SpecDiff), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn compare(
    State(state): State<AppState>,
    caller: Caller,
    Path(workflow_id): Path<Uuid>,
    Query(q): Query<CompareQuery>,
) -> Result<Reply<SpecDiff>, Problem> {
    Ok(Reply(
        workflows::compare(&state, &caller, workflow_id, q.from, q.to).await?,
    ))
}
