//! Registering and managing agents (operators), and agent authentication.

use std::net::SocketAddr;

use agentledger_commands::agents::{NewAgent, register, rotate_secret, run};
use agentledger_commands::auth::{Tokens, login, refresh};
use agentledger_domain::Aggregate;
use agentledger_domain::agent::{Agent, AgentCommand};
use agentledger_domain::ids::{AgentId, TenantId};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json as Reply, Router};
use serde::{Deserialize, Serialize};

use crate::auth::{AgentCaller, Operator};
use crate::extract::{Json, Path};
use crate::problem::Problem;
use crate::routes::operators::Done;
use crate::state::AppState;

pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 600;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/agents", post(register_agent))
        .route("/api/v1/agents/auth", post(authenticate))
        .route("/api/v1/agents/refresh", post(refresh_tokens))
        .route("/api/v1/agents/me", get(me))
        .route("/api/v1/agents/me/heartbeat", post(heartbeat))
        .route("/api/v1/agents/{agent_id}", get(agent_detail))
        .route("/api/v1/agents/{agent_id}/secret", post(rotate))
        .route(
            "/api/v1/agents/{agent_id}/permissions",
            put(change_permissions),
        )
        .route("/api/v1/agents/{agent_id}/disable", post(disable))
        .route("/api/v1/agents/{agent_id}/enable", post(enable))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterAgent {
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub permissions: Vec<String>,
    pub rate_limit_per_minute: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AgentSecret {
    pub agent_id: AgentId,
    /// Shown once; only its Argon2id hash is stored.
    pub secret: String,
    pub position: u64,
}

async fn register_agent(
    State(state): State<AppState>,
    operator: Operator,
    Json(body): Json<RegisterAgent>,
) -> Result<(StatusCode, Reply<AgentSecret>), Problem> {
    operator.require_commands()?;
    let new = NewAgent {
        name: body.name,
        kind: body.kind,
        permissions: body.permissions,
        rate_limit_per_minute: body
            .rate_limit_per_minute
            .unwrap_or(DEFAULT_RATE_LIMIT_PER_MINUTE),
    };
    let registered = register(&state.handler, &operator.context(), new).await?;
    Ok((
        StatusCode::CREATED,
        Reply(AgentSecret {
            agent_id: registered.agent_id,
            secret: registered.secret,
            position: registered.position,
        }),
    ))
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AgentView {
    pub agent_id: AgentId,
    pub tenant_id: TenantId,
    pub name: String,
    pub kind: String,
    pub permissions: Vec<String>,
    pub rate_limit_per_minute: u32,
    pub enabled: bool,
    pub online: bool,
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
    }
}

async fn agent_detail(
    State(state): State<AppState>,
    operator: Operator,
    Path(agent_id): Path<AgentId>,
) -> Result<Reply<AgentView>, Problem> {
    let (agent, _, _) = state
        .handler
        .load::<Agent>(&Agent::stream_id(agent_id))
        .await?;
    if !agent.exists || !operator.sees(agent.tenant_id) {
        return Err(Problem::not_found("agent not found"));
    }
    Ok(Reply(view(agent_id, &agent)))
}

async fn me(caller: AgentCaller) -> Reply<AgentView> {
    Reply(view(caller.agent_id, &caller.agent))
}

async fn rotate(
    State(state): State<AppState>,
    operator: Operator,
    Path(agent_id): Path<AgentId>,
) -> Result<Reply<AgentSecret>, Problem> {
    operator.require_commands()?;
    let rotated = rotate_secret(&state.handler, &operator.context(), agent_id).await?;
    Ok(Reply(AgentSecret {
        agent_id,
        secret: rotated.secret,
        position: rotated.position,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permissions {
    pub permissions: Vec<String>,
    pub rate_limit_per_minute: u32,
}

async fn change_permissions(
    State(state): State<AppState>,
    operator: Operator,
    Path(agent_id): Path<AgentId>,
    Json(body): Json<Permissions>,
) -> Result<Reply<Done>, Problem> {
    operator.require_commands()?;
    let command = AgentCommand::ChangePermissions {
        permissions: body.permissions,
        rate_limit_per_minute: body.rate_limit_per_minute,
    };
    let executed = run(&state.handler, &operator.context(), agent_id, command).await?;
    Ok(Reply(Done {
        position: executed.position,
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    #[serde(default)]
    pub reason: String,
}

async fn disable(
    State(state): State<AppState>,
    operator: Operator,
    Path(agent_id): Path<AgentId>,
    body: Option<Json<Reason>>,
) -> Result<Reply<Done>, Problem> {
    operator.require_commands()?;
    let reason = body.map(|Json(r)| r.reason).unwrap_or_default();
    let executed = run(
        &state.handler,
        &operator.context(),
        agent_id,
        AgentCommand::Disable { reason },
    )
    .await?;
    Ok(Reply(Done {
        position: executed.position,
    }))
}

async fn enable(
    State(state): State<AppState>,
    operator: Operator,
    Path(agent_id): Path<AgentId>,
) -> Result<Reply<Done>, Problem> {
    operator.require_commands()?;
    let executed = run(
        &state.handler,
        &operator.context(),
        agent_id,
        AgentCommand::Enable,
    )
    .await?;
    Ok(Reply(Done {
        position: executed.position,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub agent_id: AgentId,
    pub secret: String,
}

#[derive(Debug, Serialize)]
pub struct Issued {
    #[serde(flatten)]
    pub tokens: Tokens,
    pub position: u64,
}

async fn authenticate(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(body): Json<Credentials>,
) -> Result<Reply<Issued>, Problem> {
    state
        .limits
        .login_attempt(body.agent_id, Some(peer.ip()))
        .map_err(Problem::too_many_requests)?;
    let (tokens, position) = login(
        &state.handler,
        &state.tokens,
        body.agent_id,
        body.secret,
        Some(peer.ip().to_string()),
    )
    .await?;
    Ok(Reply(Issued { tokens, position }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

async fn refresh_tokens(
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> Result<Reply<Issued>, Problem> {
    let (tokens, position) = refresh(&state.handler, &state.tokens, &body.refresh_token).await?;
    Ok(Reply(Issued { tokens, position }))
}

async fn heartbeat(
    State(state): State<AppState>,
    caller: AgentCaller,
) -> Result<Reply<Done>, Problem> {
    let executed = crate::presence::seen(&state, &caller).await?;
    Ok(Reply(Done { position: executed }))
}
