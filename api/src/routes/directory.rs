//! Lists of what tenants are made of: agents (with their online state) and
//! command templates for a tenant's operators; every tenant and every API
//! key (never a secret) for admins.

use agentledger_app::caller::Operator;
use agentledger_app::queries::Page;
use agentledger_app::queries::directory::{self, AgentQuery as AgentFilters};
use agentledger_domain::ids::TenantId;
use agentledger_projections::agent_stats::AgentRow;
use agentledger_projections::directory::{ApiKeyRow, TemplateRow, TenantRow};
use axum::Json as Reply;
use axum::extract::State;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::extract::Query;
use crate::problem::Problem;
use crate::read_model::list_query;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(agent_list))
        .routes(routes!(template_list))
        .routes(routes!(tenant_list))
        .routes(routes!(api_key_list))
}

list_query! {
    pub struct AgentQuery {
        /// Enabled agents only (`true`) or disabled ones only (`false`).
        pub enabled: Option<bool>,
        /// Agents online only (`true`) or offline ones only (`false`).
        pub online: Option<bool>,
        /// Agents of this kind only.
        pub kind: Option<String>,
        /// Admins may read another tenant.
        pub tenant_id: Option<TenantId>,
    }
}

/// A page of agents, as the document names it.
type AgentPage = Page<AgentRow>;

#[utoipa::path(
    get,
    path = "/api/v1/agents",
    operation_id = "agents",
    tag = "agents",
    summary = "Agents, newest first",
    params(AgentQuery),
    responses((status = 200, description = "A page of agents", body = AgentPage), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn agent_list(
    State(state): State<AppState>,
    operator: Operator,
    Query(q): Query<AgentQuery>,
) -> Result<Reply<AgentPage>, Problem> {
    let list = q.list();
    let asked = AgentFilters {
        enabled: q.enabled,
        online: q.online,
        kind: q.kind,
        tenant_id: q.tenant_id,
    };
    Ok(Reply(
        directory::agents(&state, &operator, asked, list).await?,
    ))
}

list_query! {
    pub struct TenantScoped {
        /// Admins may read another tenant.
        pub tenant_id: Option<TenantId>,
    }
}

/// A page of command templates, as the document names it.
type TemplatePage = Page<TemplateRow>;

#[utoipa::path(
    get,
    path = "/api/v1/command-templates",
    operation_id = "command_templates",
    tag = "commands",
    summary = "Command templates, newest first",
    params(TenantScoped),
    responses((status = 200, description = "A page of templates", body = TemplatePage), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn template_list(
    State(state): State<AppState>,
    operator: Operator,
    Query(q): Query<TenantScoped>,
) -> Result<Reply<TemplatePage>, Problem> {
    let list = q.list();
    Ok(Reply(
        directory::templates(&state, &operator, q.tenant_id, list).await?,
    ))
}

list_query! {
    pub struct Unfiltered {}
}

/// A page of tenants, as the document names it.
type TenantPage = Page<TenantRow>;

#[utoipa::path(
    get,
    path = "/api/v1/tenants",
    operation_id = "tenants",
    tag = "operators",
    summary = "Every tenant, newest first (admin)",
    params(Unfiltered),
    responses((status = 200, description = "A page of tenants", body = TenantPage), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn tenant_list(
    State(state): State<AppState>,
    operator: Operator,
    Query(q): Query<Unfiltered>,
) -> Result<Reply<TenantPage>, Problem> {
    Ok(Reply(
        directory::tenants(&state, &operator, q.list()).await?,
    ))
}

list_query! {
    pub struct ApiKeyQuery {
        /// The keys of this tenant only.
        pub tenant_id: Option<TenantId>,
        /// Revoked keys too.
        pub revoked: Option<bool>,
    }
}

/// A page of API keys, as the document names it.
type ApiKeyPage = Page<ApiKeyRow>;

#[utoipa::path(
    get,
    path = "/api/v1/api-keys",
    operation_id = "api_keys",
    tag = "operators",
    summary = "API keys, newest first, without their secrets (admin)",
    params(ApiKeyQuery),
    responses((status = 200, description = "A page of API keys", body = ApiKeyPage), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn api_key_list(
    State(state): State<AppState>,
    operator: Operator,
    Query(q): Query<ApiKeyQuery>,
) -> Result<Reply<ApiKeyPage>, Problem> {
    let list = q.list();
    let revoked = q.revoked.unwrap_or(false);
    Ok(Reply(
        directory::api_keys(&state, &operator, q.tenant_id, revoked, list).await?,
    ))
}
