//! The agent stats read model: every agent of the tenant, or one.

use agentledger_domain::ids::{AgentId, TenantId};
use agentledger_projections::agent_stats::{AgentStats, AgentStatsView, read};
use chrono::Utc;

use crate::app::App;
use crate::caller::Operator;
use crate::error::AppError;
use crate::queries::Answer;

/// Every agent of the tenant with its stats.
pub async fn all(
    app: &App,
    operator: &Operator,
    tenant_id: Option<TenantId>,
    min_position: Option<u64>,
) -> Result<Answer<Vec<AgentStatsView>>, AppError> {
    let tenant = operator.tenant_to_read(tenant_id)?;
    let progress = app.caught_up(&AgentStats, min_position).await?;
    let agents = read(&app.database, tenant, None, Utc::now()).await?;
    Ok(Answer {
        value: agents,
        position: progress.position(),
    })
}

/// One agent of the tenant with its stats.
pub async fn one(
    app: &App,
    operator: &Operator,
    agent_id: AgentId,
    tenant_id: Option<TenantId>,
    min_position: Option<u64>,
) -> Result<Answer<AgentStatsView>, AppError> {
    let tenant = operator.tenant_to_read(tenant_id)?;
    let progress = app.caught_up(&AgentStats, min_position).await?;
    let mut found = read(&app.database, tenant, Some(agent_id), Utc::now()).await?;
    let agent = found
        .pop()
        .ok_or_else(|| AppError::NotFound("agent not found".into()))?;
    Ok(Answer {
        value: agent,
        position: progress.position(),
    })
}
