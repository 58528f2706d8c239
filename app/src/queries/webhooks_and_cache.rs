//! Webhook subscriptions and live cache entries, from their read model.

use agentledger_domain::ids::TenantId;
use agentledger_projections::webhooks_and_cache::{
    CacheRow, WebhookRow, WebhooksAndCache, cache_entries, webhooks,
};

use crate::app::App;
use crate::caller::{Caller, Operator};
use crate::error::AppError;
use crate::queries::Answer;

/// The subscriptions the caller may manage: an operator's tenant's, or the
/// ones an agent with `webhooks:manage` made itself.
pub async fn subscriptions(
    app: &App,
    caller: &Caller,
    tenant_id: Option<TenantId>,
    min_position: Option<u64>,
) -> Result<Answer<Vec<WebhookRow>>, AppError> {
    let (tenant, owner) = match caller {
        Caller::Operator(operator) => (operator.tenant_to_read(tenant_id)?, None),
        Caller::Agent(agent) => {
            agent.require("webhooks:manage")?;
            if tenant_id.is_some_and(|t| t != agent.agent.tenant_id) {
                return Err(AppError::NotFound("tenant not found".into()));
            }
            (agent.agent.tenant_id, Some(agent.agent_id))
        }
    };
    let progress = app.caught_up(&WebhooksAndCache, min_position).await?;
    let rows = webhooks(&app.database, tenant, owner).await?;
    Ok(Answer {
        value: rows,
        position: progress.position(),
    })
}

/// The tenant's cache entries that have not expired, of one type or all.
pub async fn live_cache(
    app: &App,
    operator: &Operator,
    cache_type: Option<&str>,
    tenant_id: Option<TenantId>,
    min_position: Option<u64>,
) -> Result<Answer<Vec<CacheRow>>, AppError> {
    let tenant = operator.tenant_to_read(tenant_id)?;
    let progress = app.caught_up(&WebhooksAndCache, min_position).await?;
    let now = agentledger_store::now().timestamp_micros();
    let rows = cache_entries(&app.database, tenant, cache_type, now).await?;
    Ok(Answer {
        value: rows,
        position: progress.position(),
    })
}
