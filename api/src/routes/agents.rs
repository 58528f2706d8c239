//! Registering and managing agents (operators), and agent authentication.

use std::net::SocketAddr;

use agentledger_app::agents;
use agentledger_commands::agents::Registered;
use agentledger_commands::auth::Tokens;
use agentledger_domain::agent::{Agent, AgentCommand};
use agentledger_domain::ids::{AgentId, TenantId};
use axum::Json as Reply;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::extract::{Json, Path};
use crate::idempotency::withholding;
use crate::problem::Problem;
use crate::routes::operators::Done;
use crate::state::AppState;
use agentledger_app::caller::{AgentCaller, Operator};
use axum::response::Response;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_agent))
        .routes(routes!(authenticate))
        .routes(routes!(refresh_tokens))
        .routes(routes!(me))
        .routes(routes!(heartbeat))
        .routes(routes!(agent_detail))
        .routes(routes!(rotate))
        .routes(routes!(change_permissions))
        .routes(routes!(disable))
        .routes(routes!(enable))
        .routes(routes!(rename))
        .routes(routes!(retire))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterAgent {
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Calls per minute (600 when absent).
    #[schema(minimum = 1, maximum = 100_000)]
    pub rate_limit_per_minute: Option<u32>,
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct AgentSecret {
    pub agent_id: AgentId,
    /// Shown once; only its Argon2id hash is stored.
    pub secret: String,
    pub position: u64,
}

/// A new agent's answer: 201 with its id and secret, the secret left out of
/// any stored idempotent replay.
pub(crate) fn secret_shown_once(registered: Registered) -> Response {
    let answer = AgentSecret {
        agent_id: registered.agent_id,
        secret: registered.secret,
        position: registered.position,
    };
    withholding((StatusCode::CREATED, Reply(answer)), &["secret"])
}

#[utoipa::path(
    post,
    path = "/api/v1/agents",
    tag = "agents",
    summary = "Register an agent",
    request_body = RegisterAgent,
    responses((status = 201, description = "The secret is shown once", body = AgentSecret), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn register_agent(
    State(state): State<AppState>,
    operator: Operator,
    Json(body): Json<RegisterAgent>,
) -> Result<Response, Problem> {
    let registered = agents::register(
        &state,
        &operator,
        body.name,
        body.kind,
        body.permissions,
        body.rate_limit_per_minute,
    )
    .await?;
    Ok(secret_shown_once(registered))
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct AgentView {
    pub agent_id: AgentId,
    pub tenant_id: TenantId,
    pub name: String,
    pub kind: String,
    pub permissions: Vec<String>,
    pub rate_limit_per_minute: u32,
    pub enabled: bool,
    pub online: bool,
    /// Why it was retired, once it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired: Option<String>,
}

fn view(agent_id: AgentId, agent: &Agent) -> AgentView {
    AgentView {
        agent_id,
        tenant_id: agent.tenant_id,
        name: agent.name.clone(),
        kind: agent.kind.clone(),
        permissions: agent.permissions.iter().cloned().collect(),
        rate_limit_per_minute: agent.rate_limit_per_minute,
        enabled: agent.enabled,
        online: agent.online,
        retired: agent.retired.clone(),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/agents/{agent_id}",
    tag = "agents",
    summary = "An agent",
    params(("agent_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The agent", body = AgentView), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn agent_detail(
    State(state): State<AppState>,
    operator: Operator,
    Path(agent_id): Path<AgentId>,
) -> Result<Reply<AgentView>, Problem> {
    let agent = agents::detail(&state, &operator, agent_id).await?;
    Ok(Reply(view(agent_id, &agent)))
}

#[utoipa::path(
    get,
    path = "/api/v1/agents/me",
    operation_id = "agent_me",
    tag = "agents",
    summary = "The calling agent",
    responses((status = 200, description = "The calling agent", body = AgentView), crate::openapi::Problems),
    security(("agent_token" = [])),
)]
async fn me(caller: AgentCaller) -> Reply<AgentView> {
    Reply(view(caller.agent_id, &caller.agent))
}

#[utoipa::path(
    post,
    path = "/api/v1/agents/{agent_id}/secret",
    operation_id = "rotate_secret",
    tag = "agents",
    summary = "Rotate an agent's secret",
    params(("agent_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The new secret is shown once", body = AgentSecret), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn rotate(
    State(state): State<AppState>,
    operator: Operator,
    Path(agent_id): Path<AgentId>,
) -> Result<Response, Problem> {
    let rotated = agents::rotate(&state, &operator, agent_id).await?;
    let answer = AgentSecret {
        agent_id,
        secret: rotated.secret,
        position: rotated.position,
    };
    Ok(withholding(Reply(answer), &["secret"]))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permissions {
    pub permissions: Vec<String>,
    #[schema(minimum = 1, maximum = 100_000)]
    pub rate_limit_per_minute: u32,
}

#[utoipa::path(
    put,
    path = "/api/v1/agents/{agent_id}/permissions",
    tag = "agents",
    summary = "Change permissions and rate limit",
    params(("agent_id" = uuid::Uuid, Path)),
    request_body = Permissions,
    responses((status = 200, description = "Changed", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn change_permissions(
    State(state): State<AppState>,
    operator: Operator,
    Path(agent_id): Path<AgentId>,
    Json(body): Json<Permissions>,
) -> Result<Reply<Done>, Problem> {
    let command = AgentCommand::ChangePermissions {
        permissions: body.permissions,
        rate_limit_per_minute: body.rate_limit_per_minute,
    };
    let position = agents::manage(&state, &operator, agent_id, command).await?;
    Ok(Reply(Done { position }))
}

#[derive(Debug, utoipa::ToSchema, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    #[serde(default)]
    pub reason: String,
}

impl Reason {
    /// The reason an optional body gives, or `otherwise` when it gives none.
    pub fn or(body: Option<Json<Reason>>, otherwise: &str) -> String {
        body.map(|Json(r)| r.reason)
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| otherwise.to_owned())
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/agents/{agent_id}/disable",
    operation_id = "disable_agent",
    tag = "agents",
    summary = "Disable an agent: its tokens stop working at once",
    params(("agent_id" = uuid::Uuid, Path)),
    request_body(content = Option<Reason>, description = "Optional"),
    responses((status = 200, description = "Disabled", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn disable(
    State(state): State<AppState>,
    operator: Operator,
    Path(agent_id): Path<AgentId>,
    body: Option<Json<Reason>>,
) -> Result<Reply<Done>, Problem> {
    let reason = body.map(|Json(r)| r.reason).unwrap_or_default();
    let command = AgentCommand::Disable { reason };
    let position = agents::manage(&state, &operator, agent_id, command).await?;
    Ok(Reply(Done { position }))
}

#[utoipa::path(
    post,
    path = "/api/v1/agents/{agent_id}/enable",
    operation_id = "enable_agent",
    tag = "agents",
    summary = "Enable an agent",
    params(("agent_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "Enabled", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn enable(
    State(state): State<AppState>,
    operator: Operator,
    Path(agent_id): Path<AgentId>,
) -> Result<Reply<Done>, Problem> {
    let position = agents::manage(&state, &operator, agent_id, AgentCommand::Enable).await?;
    Ok(Reply(Done { position }))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub agent_id: AgentId,
    pub secret: String,
}

#[derive(Debug, utoipa::ToSchema, Serialize)]
pub struct Issued {
    /// A JWT for `Authorization: Bearer`, valid for `expires_in` seconds.
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    /// Exchange it at /api/v1/agents/refresh; each is valid once.
    pub refresh_token: String,
    pub refresh_expires_at: chrono::DateTime<chrono::Utc>,
    pub position: u64,
}

impl Issued {
    fn new((tokens, position): (Tokens, u64)) -> Self {
        Self {
            access_token: tokens.access_token,
            token_type: tokens.token_type.into(),
            expires_in: tokens.expires_in,
            refresh_token: tokens.refresh_token,
            refresh_expires_at: tokens.refresh_expires_at,
            position,
        }
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/agents/auth",
    tag = "agents",
    summary = "Exchange an agent id and secret for tokens",
    request_body = Credentials,
    responses((status = 200, description = "An access token and a refresh token", body = Issued), crate::openapi::Problems),
)]
async fn authenticate(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    Json(body): Json<Credentials>,
) -> Result<Reply<Issued>, Problem> {
    let correlation = crate::auth::correlation_of(&headers);
    let issued = agents::login(&state, body.agent_id, body.secret, peer.ip(), correlation).await?;
    Ok(Reply(Issued::new(issued)))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/agents/refresh",
    tag = "agents",
    summary = "Exchange a refresh token for new tokens",
    request_body = RefreshRequest,
    responses((status = 200, description = "A new access token and refresh token; the old refresh token is spent", body = Issued), crate::openapi::Problems),
)]
async fn refresh_tokens(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    Json(body): Json<RefreshRequest>,
) -> Result<Reply<Issued>, Problem> {
    let correlation = crate::auth::correlation_of(&headers);
    let issued = agents::refresh(&state, &body.refresh_token, peer.ip(), correlation).await?;
    Ok(Reply(Issued::new(issued)))
}

#[utoipa::path(
    post,
    path = "/api/v1/agents/me/heartbeat",
    tag = "agents",
    summary = "Heartbeat",
    responses((status = 200, description = "Recorded", body = Done), crate::openapi::Problems),
    security(("agent_token" = [])),
)]
async fn heartbeat(
    State(state): State<AppState>,
    caller: AgentCaller,
) -> Result<Reply<Done>, Problem> {
    let executed = caller.seen(&state).await?;
    Ok(Reply(Done { position: executed }))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewName {
    pub name: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/agents/{agent_id}/rename",
    operation_id = "rename_agent",
    tag = "agents",
    summary = "Rename an agent",
    params(("agent_id" = uuid::Uuid, Path)),
    request_body = NewName,
    responses((status = 200, description = "Renamed", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn rename(
    State(state): State<AppState>,
    operator: Operator,
    Path(agent_id): Path<AgentId>,
    Json(body): Json<NewName>,
) -> Result<Reply<Done>, Problem> {
    let command = AgentCommand::Rename { name: body.name };
    let position = agents::manage(&state, &operator, agent_id, command).await?;
    Ok(Reply(Done { position }))
}

/// Retires the agent for good: its tokens stop working at once, it cannot
/// log in or be enabled again, and its history stays (it is still read,
/// audited and exported). A state change like disabling, so a `POST`: a
/// `DELETE` would promise the agent is gone, and it stays readable.
#[utoipa::path(
    post,
    path = "/api/v1/agents/{agent_id}/retire",
    operation_id = "retire_agent",
    tag = "agents",
    summary = "Retire an agent",
    params(("agent_id" = uuid::Uuid, Path)),
    request_body(content = Option<Reason>, description = "Optional"),
    responses((status = 200, description = "Retired", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn retire(
    State(state): State<AppState>,
    operator: Operator,
    Path(agent_id): Path<AgentId>,
    body: Option<Json<Reason>>,
) -> Result<Reply<Done>, Problem> {
    let reason = Reason::or(body, "retired by an operator");
    let command = AgentCommand::Retire { reason };
    let position = agents::manage(&state, &operator, agent_id, command).await?;
    Ok(Reply(Done { position }))
}
