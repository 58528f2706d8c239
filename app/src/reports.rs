//! What agents report: actions (one, or a batch of up to `MAX_BATCH` appended
//! atomically) with `actions:write` (and `batch`), and LLM runs with
//! `runs:write`.

use agentledger_commands::CommandError;
use agentledger_commands::reports::{append_llm_run, record_actions, record_single_action};
use agentledger_domain::DomainError;
use agentledger_domain::reports::{ActionReport, RunReport, record_run};
use agentledger_domain::task::Task;
use agentledger_store::{AppendOutcome, Committed};

use crate::app::App;
use crate::caller::AgentCaller;
use crate::error::AppError;

pub async fn action(
    app: &App,
    agent: &AgentCaller,
    report: ActionReport,
) -> Result<Committed, AppError> {
    agent.require("actions:write")?;
    let outcome =
        record_single_action(&app.handler, &agent.context(), agent.agent_id, report).await?;
    first(outcome)
}

/// All recorded in one append, or none (`AppError::Batch` says why).
pub async fn actions(
    app: &App,
    agent: &AgentCaller,
    reports: Vec<ActionReport>,
) -> Result<Vec<Committed>, AppError> {
    agent.require("actions:write")?;
    agent.require("batch")?;
    let outcome = record_actions(&app.handler, &agent.context(), agent.agent_id, reports)
        .await
        .map_err(AppError::Batch)?;
    Ok(outcome.events)
}

pub async fn run(app: &App, agent: &AgentCaller, report: RunReport) -> Result<Committed, AppError> {
    agent.require("runs:write")?;
    // Decided before the budgets are read: a report the domain refuses is
    // refused as such, and no name it would refuse reaches the database.
    let (model, task_id) = (report.model.clone(), report.task_id);
    let run = record_run(agent.agent_id, report).map_err(CommandError::from)?;
    let ctx = agent.context();
    crate::budget_stop::within_budgets(app, &ctx, agent.agent_id, Some(&model)).await?;
    if let Some(task_id) = task_id {
        // Its cost counts towards the task's execution: only a task the
        // agent holds may be named, or an agent could charge another's.
        let task = app.handler.load::<Task>(task_id).await?.state;
        if !task.exists
            || task.tenant_id != agent.agent.tenant_id
            || task.claimed_by != Some(agent.agent_id)
        {
            return Err(CommandError::Domain(DomainError::invalid(
                "task_id names no task this agent has claimed",
            ))
            .into());
        }
    }
    let outcome = append_llm_run(&app.handler, &ctx, agent.agent_id, run).await?;
    first(outcome)
}

/// A report is one event; an append that committed none did not record it.
fn first(outcome: AppendOutcome) -> Result<Committed, AppError> {
    outcome
        .events
        .into_iter()
        .next()
        .ok_or_else(|| AppError::Unavailable("nothing was recorded".into()))
}
