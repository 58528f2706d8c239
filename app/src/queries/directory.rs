//! Lists of what a tenant is made of: its agents (with their online state),
//! its command templates, and for admins every tenant and API key (never a
//! secret).

use agentledger_domain::ids::TenantId;
use agentledger_projections::agent_stats::{self, AgentFilter, AgentRow, AgentStats};
use agentledger_projections::directory::{
    self as model, ApiKeyRow, Directory, TemplateRow, TenantRow,
};

use crate::app::App;
use crate::caller::Operator;
use crate::error::AppError;
use crate::queries::{ListParams, Page, check_text_filters};

/// Which agents to list.
#[derive(Debug, Clone, Default)]
pub struct AgentQuery {
    pub enabled: Option<bool>,
    pub online: Option<bool>,
    pub kind: Option<String>,
    pub tenant_id: Option<TenantId>,
}

/// The tenant's agents, newest first.
pub async fn agents(
    app: &App,
    operator: &Operator,
    asked: AgentQuery,
    list: ListParams,
) -> Result<Page<AgentRow>, AppError> {
    check_text_filters(&[("kind", asked.kind.as_deref())])?;
    let filter = AgentFilter {
        tenant_id: operator.tenant_to_read(asked.tenant_id)?,
        enabled: asked.enabled,
        online: asked.online,
        kind: asked.kind,
    };
    let limit = list.page_size()?;
    let progress = app.caught_up(&AgentStats, list.min_position).await?;
    let items = agent_stats::list(&app.database, &filter, list.cursor, limit).await?;
    Ok(Page::new(items, limit, progress.position(), |a| a.seq))
}

/// The tenant's command templates, newest first.
pub async fn templates(
    app: &App,
    operator: &Operator,
    tenant_id: Option<TenantId>,
    list: ListParams,
) -> Result<Page<TemplateRow>, AppError> {
    let tenant = operator.tenant_to_read(tenant_id)?;
    let limit = list.page_size()?;
    let progress = app.caught_up(&Directory, list.min_position).await?;
    let items = model::templates(&app.database, tenant, list.cursor, limit).await?;
    Ok(Page::new(items, limit, progress.position(), |t| t.seq))
}

/// Every tenant, newest first (admins).
pub async fn tenants(
    app: &App,
    operator: &Operator,
    list: ListParams,
) -> Result<Page<TenantRow>, AppError> {
    operator.require_admin()?;
    let limit = list.page_size()?;
    let progress = app.caught_up(&Directory, list.min_position).await?;
    let items = model::tenants(&app.database, list.cursor, limit).await?;
    Ok(Page::new(items, limit, progress.position(), |t| t.seq))
}

/// API keys, newest first (admins): of one tenant or all, revoked ones only
/// when asked.
pub async fn api_keys(
    app: &App,
    operator: &Operator,
    tenant_id: Option<TenantId>,
    revoked: bool,
    list: ListParams,
) -> Result<Page<ApiKeyRow>, AppError> {
    operator.require_admin()?;
    let limit = list.page_size()?;
    let progress = app.caught_up(&Directory, list.min_position).await?;
    let items = model::api_keys(&app.database, tenant_id, revoked, list.cursor, limit).await?;
    Ok(Page::new(items, limit, progress.position(), |k| k.seq))
}
