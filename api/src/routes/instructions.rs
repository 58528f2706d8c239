//! Commands to agents, pull model: operators issue them (directly or from a
//! template), agents poll, report output and a result. History per agent.

use agentledger_app::instructions;
use agentledger_app::queries::{Page, command_history};
use agentledger_domain::ids::AgentId;
use agentledger_domain::instruction::OutputStream;
use agentledger_domain::lifecycle::LifecycleAction;
use agentledger_projections::command_history::CommandRow;
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
use agentledger_app::caller::{AgentCaller, Caller, Operator};

/// What agents are told about how often to poll and heartbeat.
pub const POLL_INTERVAL_SECONDS: u64 = 5;
pub const HEARTBEAT_INTERVAL_SECONDS: u64 = 30;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(issue_command, history))
        .routes(routes!(detail))
        .routes(routes!(poll))
        .routes(routes!(output))
        .routes(routes!(result))
        .routes(routes!(create_template))
        .routes(routes!(update_template, delete_template, template_detail))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueCommand {
    pub command: Option<String>,
    pub args: Option<Value>,
    #[schema(minimum = 1, maximum = 86_400)]
    pub timeout_seconds: Option<u32>,
    /// Issue a stored template instead of `command`.
    pub template_id: Option<Uuid>,
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct CommandIssued {
    pub command_id: Uuid,
    pub position: u64,
}

#[utoipa::path(
    post,
    path = "/api/v1/agents/{agent_id}/commands",
    tag = "commands",
    summary = "Issue a command to an agent",
    params(("agent_id" = uuid::Uuid, Path)),
    request_body = IssueCommand,
    responses((status = 201, description = "Issued", body = CommandIssued), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn issue_command(
    State(state): State<AppState>,
    operator: Operator,
    Path(agent_id): Path<AgentId>,
    Json(body): Json<IssueCommand>,
) -> Result<(StatusCode, Reply<CommandIssued>), Problem> {
    let asked = instructions::Request {
        command: body.command,
        args: body.args,
        timeout_seconds: body.timeout_seconds,
        template_id: body.template_id,
    };
    let (command_id, position) = instructions::issue(&state, &operator, agent_id, asked).await?;
    Ok((
        StatusCode::CREATED,
        Reply(CommandIssued {
            command_id,
            position,
        }),
    ))
}

list_query! {
    pub struct HistoryQuery {
        /// `issued`, `delivered`, `succeeded`, `failed` or `timed_out`.
        pub status: Option<String>,
    }
}

/// A page of an agent's commands, as the document names it.
type CommandPage = Page<CommandRow>;

#[utoipa::path(
    get,
    path = "/api/v1/agents/{agent_id}/commands",
    operation_id = "command_history",
    tag = "commands",
    summary = "An agent's commands, newest first, with output and result",
    params(("agent_id" = uuid::Uuid, Path), HistoryQuery),
    responses((status = 200, description = "A page of the agent's commands", body = CommandPage), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn history(
    State(state): State<AppState>,
    operator: Operator,
    Path(agent_id): Path<AgentId>,
    Query(q): Query<HistoryQuery>,
) -> Result<Reply<CommandPage>, Problem> {
    let page =
        command_history::list(&state, &operator, agent_id, q.status.as_deref(), q.list()).await?;
    Ok(Reply(page))
}

#[derive(Debug, utoipa::ToSchema, Serialize)]
pub struct CommandDetail {
    pub command_id: Uuid,
    pub events: Vec<RecordedEvent>,
}

/// The command's whole stream: issue, delivery, every output chunk in order, result.
#[utoipa::path(
    get,
    path = "/api/v1/commands/{command_id}",
    operation_id = "command_detail",
    tag = "commands",
    summary = "A command with its output",
    params(("command_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The command with its output", body = CommandDetail), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(command_id): Path<Uuid>,
) -> Result<Reply<CommandDetail>, Problem> {
    let events = instructions::detail(&state, &caller, command_id).await?;
    Ok(Reply(CommandDetail { command_id, events }))
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct Delivered {
    pub command_id: Uuid,
    pub command: String,
    pub args: Value,
    /// A lifecycle command's typed action; absent from other commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<LifecycleAction>,
    pub deadline: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct PollAnswer {
    pub commands: Vec<Delivered>,
    pub poll_interval_seconds: u64,
    pub heartbeat_interval_seconds: u64,
    /// The log position this answer reflects, the poll's own events
    /// included (coming online, deliveries): pass it as `min_position` to
    /// read them back.
    pub position: u64,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PollQuery {
    /// With no command waiting, hold the request up to this many seconds
    /// and answer as soon as one is issued (long poll); 0 when absent.
    #[param(minimum = 0, maximum = 30)]
    pub wait: Option<u64>,
}

/// Refreshes the heartbeat and hands over the commands waiting for this
/// agent, each exactly once; with `wait`, waits for one to be issued.
#[utoipa::path(
    get,
    path = "/api/v1/agents/me/commands",
    operation_id = "poll_commands",
    tag = "commands",
    summary = "Poll for commands (also a heartbeat)",
    params(PollQuery),
    responses((status = 200, description = "The commands to run now (possibly none)", body = PollAnswer), crate::openapi::Problems),
    security(("agent_token" = [])),
)]
async fn poll(
    State(state): State<AppState>,
    caller: AgentCaller,
    Query(q): Query<PollQuery>,
) -> Result<Reply<PollAnswer>, Problem> {
    let wait = std::time::Duration::from_secs(q.wait.unwrap_or(0));
    let polled = instructions::poll(&state, &caller, wait).await?;
    let commands = polled
        .commands
        .into_iter()
        .map(|d| Delivered {
            command_id: d.command_id,
            command: d.command,
            args: d.args,
            action: d.action,
            deadline: d.deadline,
        })
        .collect();
    Ok(Reply(PollAnswer {
        commands,
        poll_interval_seconds: POLL_INTERVAL_SECONDS,
        heartbeat_interval_seconds: HEARTBEAT_INTERVAL_SECONDS,
        position: polled.position,
    }))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    pub stream: OutputStream,
    pub chunk: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/agents/me/commands/{command_id}/output",
    operation_id = "command_output",
    tag = "commands",
    summary = "Append output",
    params(("command_id" = uuid::Uuid, Path)),
    request_body = Output,
    responses((status = 200, description = "Appended", body = Done), crate::openapi::Problems),
    security(("agent_token" = [])),
)]
async fn output(
    State(state): State<AppState>,
    caller: AgentCaller,
    Path(command_id): Path<Uuid>,
    Json(body): Json<Output>,
) -> Result<Reply<Done>, Problem> {
    let position =
        instructions::output(&state, &caller, command_id, body.stream, body.chunk).await?;
    Ok(Reply(Done { position }))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub success: bool,
    pub exit_code: Option<i32>,
    pub output: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/agents/me/commands/{command_id}/result",
    operation_id = "command_result",
    tag = "commands",
    summary = "Report the result",
    params(("command_id" = uuid::Uuid, Path)),
    request_body = Outcome,
    responses((status = 200, description = "Recorded", body = Done), crate::openapi::Problems),
    security(("agent_token" = [])),
)]
async fn result(
    State(state): State<AppState>,
    caller: AgentCaller,
    Path(command_id): Path<Uuid>,
    Json(body): Json<Outcome>,
) -> Result<Reply<Done>, Problem> {
    let position = instructions::finish(
        &state,
        &caller,
        command_id,
        body.success,
        body.exit_code,
        body.output,
    )
    .await?;
    Ok(Reply(Done { position }))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    pub name: String,
    pub command: String,
    #[serde(default)]
    pub args: Value,
    #[schema(minimum = 1, maximum = 86_400)]
    pub timeout_seconds: Option<u32>,
}

impl From<TemplateBody> for instructions::TemplateRequest {
    fn from(body: TemplateBody) -> Self {
        Self {
            name: body.name,
            command: body.command,
            args: body.args,
            timeout_seconds: body.timeout_seconds,
        }
    }
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct TemplateCreated {
    pub template_id: Uuid,
    pub position: u64,
}

#[utoipa::path(
    post,
    path = "/api/v1/command-templates",
    tag = "commands",
    summary = "Create a command template",
    request_body = TemplateBody,
    responses((status = 201, description = "Created", body = TemplateCreated), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn create_template(
    State(state): State<AppState>,
    operator: Operator,
    Json(body): Json<TemplateBody>,
) -> Result<(StatusCode, Reply<TemplateCreated>), Problem> {
    let (template_id, position) =
        instructions::create_template(&state, &operator, body.into()).await?;
    Ok((
        StatusCode::CREATED,
        Reply(TemplateCreated {
            template_id,
            position,
        }),
    ))
}

#[utoipa::path(
    put,
    path = "/api/v1/command-templates/{template_id}",
    tag = "commands",
    summary = "Update a command template",
    params(("template_id" = uuid::Uuid, Path)),
    request_body = TemplateBody,
    responses((status = 200, description = "Updated", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn update_template(
    State(state): State<AppState>,
    operator: Operator,
    Path(template_id): Path<Uuid>,
    Json(body): Json<TemplateBody>,
) -> Result<Reply<Done>, Problem> {
    let position =
        instructions::update_template(&state, &operator, template_id, body.into()).await?;
    Ok(Reply(Done { position }))
}

#[utoipa::path(
    delete,
    path = "/api/v1/command-templates/{template_id}",
    tag = "commands",
    summary = "Delete a command template",
    params(("template_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "Deleted", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn delete_template(
    State(state): State<AppState>,
    operator: Operator,
    Path(template_id): Path<Uuid>,
) -> Result<Reply<Done>, Problem> {
    let position = instructions::delete_template(&state, &operator, template_id).await?;
    Ok(Reply(Done { position }))
}

#[derive(Debug, utoipa::ToSchema, Serialize)]
pub struct TemplateView {
    pub template_id: Uuid,
    pub name: String,
    pub command: String,
    pub args: Value,
    pub timeout_seconds: u32,
}

#[utoipa::path(
    get,
    path = "/api/v1/command-templates/{template_id}",
    tag = "commands",
    summary = "A command template",
    params(("template_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The template", body = TemplateView), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn template_detail(
    State(state): State<AppState>,
    operator: Operator,
    Path(template_id): Path<Uuid>,
) -> Result<Reply<TemplateView>, Problem> {
    let t = instructions::template_detail(&state, &operator, template_id).await?;
    Ok(Reply(TemplateView {
        template_id,
        name: t.name,
        command: t.command,
        args: t.args,
        timeout_seconds: t.timeout_seconds,
    }))
}
