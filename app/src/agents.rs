//! Agents: registered and managed by operators who may run commands, and
//! their logins and token refreshes, within the login budgets (only failures
//! spend them, `crate::limits`).

use std::net::IpAddr;

use agentledger_commands::CommandError;
use agentledger_commands::agents::{
    NewAgent, Registered, register as register_agent, rotate_secret,
};
use agentledger_commands::auth::{
    LoginError, LoginFailure, Tokens, login as log_in, refresh as refresh_tokens,
    refresh_token_agent,
};
use agentledger_domain::agent::{Agent, AgentCommand};
use agentledger_domain::ids::AgentId;
use uuid::Uuid;

use crate::app::App;
use crate::caller::Operator;
use crate::error::AppError;

/// Calls per minute of an agent registered without a limit of its own.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 600;

/// A new agent of the operator's tenant: its id, its secret (shown once) and
/// the position of its registration.
pub async fn register(
    app: &App,
    operator: &Operator,
    name: String,
    kind: String,
    permissions: Vec<String>,
    rate_limit_per_minute: Option<u32>,
) -> Result<Registered, AppError> {
    operator.require_commands()?;
    let new = NewAgent {
        name,
        kind,
        permissions,
        rate_limit_per_minute: rate_limit_per_minute.unwrap_or(DEFAULT_RATE_LIMIT_PER_MINUTE),
    };
    Ok(register_agent(&app.handler, &operator.context(), new).await?)
}

/// The agent, if it exists in a tenant the operator sees.
pub async fn detail(app: &App, operator: &Operator, agent_id: AgentId) -> Result<Agent, AppError> {
    Ok(app.load_visible::<Agent>(operator, agent_id).await?.state)
}

/// A new secret for the agent; the old one stops working.
pub async fn rotate(
    app: &App,
    operator: &Operator,
    agent_id: AgentId,
) -> Result<Registered, AppError> {
    operator.require_commands()?;
    Ok(rotate_secret(&app.handler, &operator.context(), agent_id).await?)
}

/// Runs one of the operator's commands on the agent; the position of it.
pub async fn manage(
    app: &App,
    operator: &Operator,
    agent_id: AgentId,
    command: AgentCommand,
) -> Result<u64, AppError> {
    operator.require_commands()?;
    let executed = app
        .handler
        .run::<Agent>(&operator.context(), agent_id, command)
        .await?;
    Ok(executed.position)
}

/// Tokens for an agent id and secret, from `source`. A refused login spends
/// the budgets of that agent from that address and of the address; one for
/// an id no agent has is counted and logged, never an event (anyone could
/// grow the log with those).
pub async fn login(
    app: &App,
    agent_id: AgentId,
    secret: String,
    source: IpAddr,
    correlation_id: Uuid,
) -> Result<(Tokens, u64), AppError> {
    let attempt = app
        .limits
        .login_attempt(agent_id, source)
        .map_err(AppError::RateLimited)?;
    let outcome = log_in(
        &app.handler,
        &app.tokens,
        agent_id,
        secret,
        Some(source.to_string()),
        Some(correlation_id),
    )
    .await;
    match outcome {
        Ok(issued) => Ok(issued),
        Err(LoginError::Refused(failure)) => {
            app.limits.failed(attempt);
            app.metrics.login_failed(failure);
            if failure == LoginFailure::UnknownAgent {
                tracing::warn!(%agent_id, %source, "login refused: no agent has this id");
            }
            Err(AppError::Unauthorized(
                LoginError::Refused(failure).to_string(),
            ))
        }
        // The server failed, not the caller's credentials.
        Err(LoginError::Command(e)) => Err(e.into()),
    }
}

/// New tokens for a refresh token (spent by the exchange), within the
/// agent's refresh budget; a refused token spends the address's failures.
pub async fn refresh(
    app: &App,
    refresh_token: &str,
    source: IpAddr,
    correlation_id: Uuid,
) -> Result<(Tokens, u64), AppError> {
    let agent_id = refresh_token_agent(refresh_token);
    let attempt = app
        .limits
        .refresh_attempt(agent_id, source)
        .map_err(AppError::RateLimited)?;
    match refresh_tokens(
        &app.handler,
        &app.tokens,
        refresh_token,
        Some(correlation_id),
    )
    .await
    {
        Ok(issued) => {
            if let Some(agent_id) = agent_id {
                app.limits.refreshed(agent_id);
            }
            Ok(issued)
        }
        Err(e) => {
            // A failure of the server's own spends nothing.
            if matches!(e, CommandError::Unauthorized(_)) {
                app.limits.failed(attempt);
            }
            Err(e.into())
        }
    }
}
