//! Tools and MCP servers: operators register, update (each update a new
//! version), disable, enable and test them; operators and agents list and
//! read them, and every version and test is in a tool's history.

use agentledger_app::caller::{Caller, Operator};
use agentledger_app::queries::Page;
use agentledger_app::tools;
use agentledger_domain::tool::{ToolDefinition, ToolKind, ToolTest};
use agentledger_projections::tools::ToolRow;
use agentledger_store::RecordedEvent;
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
use crate::routes::operators::Done;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register, list))
        .routes(routes!(update, detail))
        .routes(routes!(history))
        .routes(routes!(disable))
        .routes(routes!(enable))
        .routes(routes!(test))
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct ToolRegistered {
    pub tool_id: Uuid,
    pub position: u64,
}

/// Registers a tool at version 1: an HTTP endpoint taking JSON (`http`) or
/// an MCP server over streamable HTTP (`mcp`). The endpoint follows the
/// outbound address policy; `input_schema` must be a JSON Schema.
#[utoipa::path(
    post,
    path = "/api/v1/tools",
    operation_id = "register_tool",
    tag = "tools",
    summary = "Register a tool",
    request_body = ToolDefinition,
    responses((status = 201, description = "Registered", body = ToolRegistered), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn register(
    State(state): State<AppState>,
    operator: Operator,
    Json(definition): Json<ToolDefinition>,
) -> Result<(StatusCode, Reply<ToolRegistered>), Problem> {
    let made = tools::register(&state, &operator, definition).await?;
    Ok((
        StatusCode::CREATED,
        Reply(ToolRegistered {
            tool_id: made.tool_id,
            position: made.position,
        }),
    ))
}

list_query! {
    pub struct ToolQuery {
        /// `http` or `mcp`; both when absent.
        pub kind: Option<ToolKind>,
    }
}

/// A page of tools, as the document names it.
type ToolPage = Page<ToolRow>;

/// The tenant's tools as their latest versions stand, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/tools",
    operation_id = "tools",
    tag = "tools",
    summary = "Tools, newest first",
    params(ToolQuery),
    responses((status = 200, description = "A page of tools", body = ToolPage), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ToolQuery>,
) -> Result<Reply<ToolPage>, Problem> {
    let list = q.list();
    Ok(Reply(tools::list(&state, &caller, q.kind, list).await?))
}

/// Makes the next version of the tool's definition (nothing when it is the
/// same).
#[utoipa::path(
    put,
    path = "/api/v1/tools/{tool_id}",
    operation_id = "update_tool",
    tag = "tools",
    summary = "Update a tool (a new version)",
    params(("tool_id" = uuid::Uuid, Path)),
    request_body = ToolDefinition,
    responses((status = 200, description = "Updated", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn update(
    State(state): State<AppState>,
    operator: Operator,
    Path(tool_id): Path<Uuid>,
    Json(definition): Json<ToolDefinition>,
) -> Result<Reply<Done>, Problem> {
    let position = tools::update(&state, &operator, tool_id, definition).await?;
    Ok(Reply(Done { position }))
}

#[derive(Debug, utoipa::ToSchema, Serialize)]
pub struct ToolView {
    pub tool_id: Uuid,
    pub version: u32,
    #[serde(flatten)]
    pub definition: ToolDefinition,
    /// Why it may not be called; absent while it may.
    pub disabled_reason: Option<String>,
    /// What its last test found; absent before the first.
    pub last_test: Option<ToolTest>,
}

#[utoipa::path(
    get,
    path = "/api/v1/tools/{tool_id}",
    operation_id = "tool",
    tag = "tools",
    summary = "A tool as it stands",
    params(("tool_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The tool", body = ToolView), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(tool_id): Path<Uuid>,
) -> Result<Reply<ToolView>, Problem> {
    let tool = tools::detail(&state, &caller, tool_id).await?;
    Ok(Reply(ToolView {
        tool_id,
        version: tool.version,
        definition: tool.definition,
        disabled_reason: tool.disabled,
        last_test: tool.last_test,
    }))
}

/// The tool's stream, oldest first: every version of its definition, each
/// test, each disabling and enabling.
#[utoipa::path(
    get,
    path = "/api/v1/tools/{tool_id}/history",
    operation_id = "tool_history",
    tag = "tools",
    summary = "A tool's versions and tests",
    params(("tool_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The tool's events, oldest first", body = Vec<RecordedEvent>), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(tool_id): Path<Uuid>,
) -> Result<Reply<Vec<RecordedEvent>>, Problem> {
    Ok(Reply(tools::history(&state, &caller, tool_id).await?))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisableTool {
    /// Why, for whoever looks at the tool later.
    pub reason: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/tools/{tool_id}/disable",
    operation_id = "disable_tool",
    tag = "tools",
    summary = "Disable a tool",
    params(("tool_id" = uuid::Uuid, Path)),
    request_body = DisableTool,
    responses((status = 200, description = "Disabled", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn disable(
    State(state): State<AppState>,
    operator: Operator,
    Path(tool_id): Path<Uuid>,
    Json(body): Json<DisableTool>,
) -> Result<Reply<Done>, Problem> {
    let position = tools::disable(&state, &operator, tool_id, body.reason).await?;
    Ok(Reply(Done { position }))
}

#[utoipa::path(
    post,
    path = "/api/v1/tools/{tool_id}/enable",
    operation_id = "enable_tool",
    tag = "tools",
    summary = "Enable a tool again",
    params(("tool_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "Enabled", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn enable(
    State(state): State<AppState>,
    operator: Operator,
    Path(tool_id): Path<Uuid>,
) -> Result<Reply<Done>, Problem> {
    let position = tools::enable(&state, &operator, tool_id).await?;
    Ok(Reply(Done { position }))
}

#[derive(Debug, Default, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestTool {
    /// For an HTTP tool: the sample input to send, which its schema must
    /// accept. An MCP server's test takes none.
    #[schema(value_type = Option<Object>)]
    pub input: Option<Value>,
}

/// Tests the tool as it stands and records what was found (`ToolTested`,
/// in its history): an MCP server is asked for its tools over streamable
/// HTTP; an HTTP tool is sent `input`. A tool that fails the test is
/// answered 200 with `succeeded: false` and why.
#[utoipa::path(
    post,
    path = "/api/v1/tools/{tool_id}/test",
    operation_id = "test_tool",
    tag = "tools",
    summary = "Test a tool",
    params(("tool_id" = uuid::Uuid, Path)),
    request_body = TestTool,
    responses((status = 200, description = "What the test found", body = ToolTest), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn test(
    State(state): State<AppState>,
    operator: Operator,
    Path(tool_id): Path<Uuid>,
    Json(body): Json<TestTool>,
) -> Result<Reply<ToolTest>, Problem> {
    Ok(Reply(
        tools::test(&state, &operator, tool_id, body.input).await?,
    ))
}
