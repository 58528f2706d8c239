//! Recording what agents report: actions (alone or in batches) and LLM runs.

use agentledger_domain::DomainError;
use agentledger_domain::ids::AgentId;
use agentledger_domain::reports::{
    ACTIONS, ActionReport, MAX_BATCH, RUNS, ReportEvent, RunReport, record_action, record_run,
};
use agentledger_store::AppendOutcome;

use crate::error::CommandError;
use crate::handler::{Context, Handler};

pub fn actions_stream(agent_id: AgentId) -> String {
    ACTIONS.stream(agent_id)
}

pub fn runs_stream(agent_id: AgentId) -> String {
    RUNS.stream(agent_id)
}

/// A batch is all or nothing: when any action is invalid, none is recorded
/// and every invalid one is named by its index.
#[derive(Debug)]
pub enum BatchRefused {
    /// Empty, or more than `MAX_BATCH`: how many it held.
    Size(usize),
    Invalid(Vec<(usize, DomainError)>),
    Failed(CommandError),
}

impl From<BatchRefused> for CommandError {
    /// One error for callers that need no more than why: the size, or the
    /// first invalid action's.
    fn from(refused: BatchRefused) -> Self {
        match refused {
            BatchRefused::Failed(e) => e,
            BatchRefused::Size(count) => CommandError::Domain(DomainError::invalid(format!(
                "a batch holds 1 to {MAX_BATCH} actions; this one holds {count}"
            ))),
            BatchRefused::Invalid(errors) => match errors.into_iter().next() {
                Some((index, e)) => {
                    CommandError::Domain(DomainError::invalid(format!("action {index}: {e}")))
                }
                None => CommandError::Domain(DomainError::invalid("the batch is invalid")),
            },
        }
    }
}

/// One action, refused with its own error.
pub async fn record_single_action(
    handler: &Handler,
    ctx: &Context,
    agent_id: AgentId,
    action: ActionReport,
) -> Result<AppendOutcome, CommandError> {
    let event = record_action(agent_id, action)?;
    handler
        .append_facts(&actions_stream(agent_id), ctx, &[event])
        .await
}

pub async fn record_actions(
    handler: &Handler,
    ctx: &Context,
    agent_id: AgentId,
    actions: Vec<ActionReport>,
) -> Result<AppendOutcome, BatchRefused> {
    if actions.is_empty() || actions.len() > MAX_BATCH {
        return Err(BatchRefused::Size(actions.len()));
    }
    let mut events = Vec::with_capacity(actions.len());
    let mut invalid = Vec::new();
    for (index, action) in actions.into_iter().enumerate() {
        match record_action(agent_id, action) {
            Ok(event) => events.push(event),
            Err(e) => invalid.push((index, e)),
        }
    }
    if !invalid.is_empty() {
        return Err(BatchRefused::Invalid(invalid));
    }
    handler
        .append_facts(&actions_stream(agent_id), ctx, &events)
        .await
        .map_err(BatchRefused::Failed)
}

pub async fn record_llm_run(
    handler: &Handler,
    ctx: &Context,
    agent_id: AgentId,
    run: RunReport,
) -> Result<AppendOutcome, CommandError> {
    let event = record_run(agent_id, run)?;
    append_llm_run(handler, ctx, agent_id, event).await
}

/// Appends a run report `record_run` decided (a caller that must look at
/// the report before it is recorded decides it first).
pub async fn append_llm_run(
    handler: &Handler,
    ctx: &Context,
    agent_id: AgentId,
    run: ReportEvent,
) -> Result<AppendOutcome, CommandError> {
    handler
        .append_facts(&runs_stream(agent_id), ctx, &[run])
        .await
}
