//! The agent page's buttons: disable, enable, send a command, send a
//! lifecycle command, rotate the secret. Each calls the app's use case as
//! the API's route does, so every rule (roles, tenants, command and timeout
//! checks) is the app's; a page only reads what the form says.

use agentledger_api::state::AppState;
use agentledger_app::AppError;
use agentledger_app::agents;
use agentledger_app::instructions::{self, Request};
use agentledger_domain::agent::AgentCommand;
use agentledger_domain::ids::AgentId;
use agentledger_domain::lifecycle::LifecycleAction;
use agentledger_projections::agent_stats::AgentStats;
use agentledger_projections::command_history::CommandHistory;
use askama::Template;
use axum::extract::{Form, Path, State};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::form::{given, parsed};
use crate::page::{PageResult, html, refresh};
use crate::session::Writer;
use crate::views::links;

#[derive(Deserialize)]
pub struct ReasonForm {
    reason: Option<String>,
}

/// Disables the agent (its tokens stop working at once), with the reason
/// typed, if any, as the API takes it.
pub async fn disable(
    State(state): State<AppState>,
    Writer(signed): Writer,
    Path(agent_id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> PageResult {
    let agent_id: AgentId = links::id(&agent_id, "agent")?;
    let reason = given(&form.reason).unwrap_or_default();
    let command = AgentCommand::Disable { reason };
    let position = agents::manage(&state, &signed.session.operator, agent_id, command).await?;
    state.caught_up(&AgentStats, Some(position)).await?;
    Ok(refresh())
}

pub async fn enable(
    State(state): State<AppState>,
    Writer(signed): Writer,
    Path(agent_id): Path<String>,
) -> PageResult {
    let agent_id: AgentId = links::id(&agent_id, "agent")?;
    let position = agents::manage(
        &state,
        &signed.session.operator,
        agent_id,
        AgentCommand::Enable,
    )
    .await?;
    state.caught_up(&AgentStats, Some(position)).await?;
    Ok(refresh())
}

/// The send-command form: a command or a template, JSON arguments, a
/// timeout; blanks are absent.
#[derive(Deserialize)]
pub struct CommandForm {
    command: Option<String>,
    template_id: Option<String>,
    args: Option<String>,
    timeout_seconds: Option<String>,
}

/// Issues a command to the agent, as `POST /api/v1/agents/{id}/commands`.
/// Arguments that are not JSON are unprocessable (422), as the API's body
/// would be; which of command and template must be given is the app's rule.
pub async fn issue(
    State(state): State<AppState>,
    Writer(signed): Writer,
    Path(agent_id): Path<String>,
    Form(form): Form<CommandForm>,
) -> PageResult {
    let agent_id: AgentId = links::id(&agent_id, "agent")?;
    let args = given(&form.args)
        .map(|text| {
            serde_json::from_str::<Value>(&text)
                .map_err(|e| AppError::Unprocessable(format!("`args` is not valid JSON: {e}")))
        })
        .transpose()?;
    let asked = Request {
        command: given(&form.command),
        args,
        timeout_seconds: parsed::<u32>(&form.timeout_seconds, "timeout_seconds")?,
        template_id: parsed::<Uuid>(&form.template_id, "template")?,
    };
    let (_, position) =
        instructions::issue(&state, &signed.session.operator, agent_id, asked).await?;
    state.caught_up(&CommandHistory, Some(position)).await?;
    Ok(refresh())
}

/// The lifecycle form: start, stop or restart (upgrades and certificates,
/// which carry packages and PEM, are left to the API).
#[derive(Deserialize)]
pub struct LifecycleForm {
    action: Option<String>,
    timeout_seconds: Option<String>,
}

/// Issues a lifecycle command, as `POST /api/v1/agents/{id}/lifecycle`.
pub async fn lifecycle(
    State(state): State<AppState>,
    Writer(signed): Writer,
    Path(agent_id): Path<String>,
    Form(form): Form<LifecycleForm>,
) -> PageResult {
    let agent_id: AgentId = links::id(&agent_id, "agent")?;
    let action = match given(&form.action).as_deref() {
        Some("start") => LifecycleAction::Start,
        Some("stop") => LifecycleAction::Stop,
        Some("restart") => LifecycleAction::Restart,
        _ => {
            return Err(AppError::Unprocessable(
                "`action` must be start, stop or restart here; upgrades and certificates go through the API"
                    .into(),
            )
            .into());
        }
    };
    let timeout_seconds = parsed::<u32>(&form.timeout_seconds, "timeout_seconds")?;
    let (_, position) = instructions::issue_lifecycle(
        &state,
        &signed.session.operator,
        agent_id,
        action,
        timeout_seconds,
    )
    .await?;
    state.caught_up(&CommandHistory, Some(position)).await?;
    Ok(refresh())
}

#[derive(Template)]
#[template(path = "agent_secret.html")]
struct Secret {
    agent_id: String,
    secret: String,
}

/// Rotates the agent's secret and answers with the new one, shown this once
/// in the page (never kept: the answer is `no-store` like every page).
pub async fn rotate(
    State(state): State<AppState>,
    Writer(signed): Writer,
    Path(agent_id): Path<String>,
) -> PageResult {
    let agent_id: AgentId = links::id(&agent_id, "agent")?;
    let rotated = agents::rotate(&state, &signed.session.operator, agent_id).await?;
    Ok(html(&Secret {
        agent_id: agent_id.to_string(),
        secret: rotated.secret,
    }))
}
