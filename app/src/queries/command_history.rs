//! The command history read model: an agent's commands with their output
//! and result, for operators of its tenant.

use agentledger_domain::ids::AgentId;
use agentledger_projections::command_history::{self as model, CommandHistory, CommandRow};

use crate::app::App;
use crate::caller::Operator;
use crate::error::AppError;
use crate::instructions::agent_seen_by;
use crate::queries::{ListParams, Page};

/// The agent's commands newest first, of one status (`issued`,
/// `delivered`, `succeeded`, `failed` or `timed_out`) or all.
pub async fn list(
    app: &App,
    operator: &Operator,
    agent_id: AgentId,
    status: Option<&str>,
    list: ListParams,
) -> Result<Page<CommandRow>, AppError> {
    let agent = agent_seen_by(app, operator, agent_id).await?;
    let limit = list.page_size()?;
    let progress = app.caught_up(&CommandHistory, list.min_position).await?;
    let items = model::list(
        &app.database,
        agent.tenant_id,
        agent_id,
        status,
        list.cursor,
        limit,
    )
    .await?;
    Ok(Page::new(items, limit, progress.position(), |c| c.position))
}
