//! Alerts (operators acknowledge or ignore them), budgets (the tenant's,
//! its agents', its models'), and batch runs estimated against them and
//! confirmed into tasks.

use agentledger_commands::budgets;
use agentledger_domain::Aggregate;
use agentledger_domain::agent::Agent;
use agentledger_domain::alert::{Alert, AlertCommand};
use agentledger_domain::budget::{
    BatchCommand, BatchEvent, Budget, BudgetCommand, BudgetScope, Limits, Rule,
};
use agentledger_domain::ids::{AgentId, TaskId};
use agentledger_domain::reports::MAX_TOKENS;
use agentledger_store::RecordedEvent;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::app::App;
use crate::caller::Operator;
use crate::error::AppError;

/// Tokens per call assumed by a batch estimate unless the request says otherwise.
pub const DEFAULT_TOKENS_PER_CALL: u64 = 1500;
/// The largest integer a JSON reader holds exactly (2^53 - 1): read models'
/// sums stop there, so a limit past it could never be reached.
pub const MAX_TOKEN_LIMIT: u64 = (1 << 53) - 1;

/// An alert of a tenant the operator sees, with its history.
pub async fn alert(
    app: &App,
    operator: &Operator,
    alert_id: Uuid,
) -> Result<(Alert, Vec<RecordedEvent>), AppError> {
    let alert = app.load_visible::<Alert>(operator, alert_id).await?.state;
    let stream = Alert::stream_id(alert_id);
    let events = app.store.read_stream(&stream, 0, 100).await?;
    Ok((alert, events))
}

/// Acknowledges or ignores an alert; the position of it.
pub async fn handle_alert(
    app: &App,
    operator: &Operator,
    alert_id: Uuid,
    command: AlertCommand,
) -> Result<u64, AppError> {
    operator.require_commands()?;
    let executed = app
        .handler
        .run::<Alert>(&operator.context(), alert_id, command)
        .await?;
    Ok(executed.position)
}

/// A budget of the operator's tenant: its own, an agent's or a model's; one
/// never set has no limits (and the default thresholds).
pub async fn budget(app: &App, operator: &Operator, scope: BudgetScope) -> Result<Rule, AppError> {
    if let BudgetScope::Agent { agent_id } = scope {
        agent_of_tenant(app, operator, agent_id).await?;
    }
    let budget = app.handler.load::<Budget>(operator.tenant_id).await?.state;
    Ok(budget
        .rules
        .get(&scope)
        .cloned()
        .unwrap_or_else(|| Rule::warning(Limits::default())))
}

/// A budget is the operator's own tenant's, so its agent must be one of
/// that tenant's too: any other is not found (an admin, who sees every
/// tenant's agents, included), so no id of another can be probed or given a
/// budget that would never apply.
async fn agent_of_tenant(
    app: &App,
    operator: &Operator,
    agent_id: AgentId,
) -> Result<(), AppError> {
    let agent = app.load_visible::<Agent>(operator, agent_id).await?.state;
    if agent.tenant_id == operator.tenant_id {
        Ok(())
    } else {
        Err(AppError::NotFound("agent not found".into()))
    }
}

/// Sets, changes or removes a budget of the operator's tenant; the position
/// of the change.
pub async fn change(
    app: &App,
    operator: &Operator,
    command: BudgetCommand,
) -> Result<u64, AppError> {
    operator.require_commands()?;
    let (scope, tokens) = match &command {
        BudgetCommand::Set { scope, rule } => (
            scope,
            [rule.limits.daily_tokens, rule.limits.monthly_tokens],
        ),
        BudgetCommand::Change { scope, changes } => (
            scope,
            [
                changes.limits.daily_tokens.flatten(),
                changes.limits.monthly_tokens.flatten(),
            ],
        ),
        BudgetCommand::Remove { scope } => (scope, [None, None]),
    };
    for tokens in tokens.into_iter().flatten() {
        if tokens > MAX_TOKEN_LIMIT {
            return Err(AppError::Unprocessable(format!(
                "token limits are at most {MAX_TOKEN_LIMIT}"
            )));
        }
    }
    if let BudgetScope::Agent { agent_id } = scope {
        agent_of_tenant(app, operator, *agent_id).await?;
    }
    let executed = budgets::change(&app.handler, &operator.context(), command).await?;
    Ok(executed.position)
}

/// A batch run's estimate, to be confirmed before it expires.
pub struct Estimated {
    pub batch_id: Uuid,
    pub calls: u64,
    pub tokens: u64,
    pub expires_at: DateTime<Utc>,
    pub position: u64,
}

/// Estimates a batch of one task per (app type, member) pair.
pub async fn estimate(
    app: &App,
    operator: &Operator,
    app_types: Vec<String>,
    member_ids: Vec<String>,
    avg_tokens_per_call: Option<u64>,
) -> Result<Estimated, AppError> {
    operator.require_commands()?;
    // No call can use more than one run may report.
    let per_call = match avg_tokens_per_call {
        Some(n) if n > MAX_TOKENS => {
            return Err(AppError::Unprocessable(format!(
                "avg_tokens_per_call is at most {MAX_TOKENS}"
            )));
        }
        other => other.unwrap_or(DEFAULT_TOKENS_PER_CALL),
    };
    let ctx = operator.context();
    let batch_id = Uuid::now_v7();
    let command = BatchCommand::Estimate {
        tenant_id: operator.tenant_id,
        app_types,
        member_ids,
        avg_tokens_per_call: per_call,
        at: ctx.at,
    };
    let executed = budgets::estimate(&app.handler, &ctx, batch_id, command).await?;
    // A new batch's estimate is always its one event, which carries the figures.
    let Some(BatchEvent::BatchEstimated {
        estimated_calls,
        estimated_tokens,
        expires_at,
        ..
    }) = executed.events.first()
    else {
        tracing::error!(%batch_id, "an estimate appended no BatchEstimated event");
        return Err(AppError::Unavailable(
            "the estimate was not recorded".into(),
        ));
    };
    Ok(Estimated {
        batch_id,
        calls: *estimated_calls,
        tokens: *estimated_tokens,
        expires_at: *expires_at,
        position: executed.position,
    })
}

/// Confirms an estimate: the tasks created and the position of the last.
pub async fn confirm(
    app: &App,
    operator: &Operator,
    batch_id: Uuid,
) -> Result<(Vec<TaskId>, u64), AppError> {
    operator.require_commands()?;
    Ok(budgets::confirm(&app.handler, &operator.context(), batch_id).await?)
}
