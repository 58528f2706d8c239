//! Agent stats read model: every agent of the tenant, or one.

use agentledger_domain::ids::{AgentId, TenantId};
use agentledger_projections::agent_stats::{AgentStats, AgentStatsView, read};
use axum::Json as Reply;
use axum::extract::State;
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::extract::{Path, Query};
use crate::problem::Problem;
use crate::read_model::tenant_of;
use crate::state::AppState;
use agentledger_app::caller::Operator;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(all_agents))
        .routes(routes!(one_agent))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// Admins may read another tenant.
    pub tenant_id: Option<TenantId>,
    pub min_position: Option<u64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/agent-stats",
    operation_id = "agent_stats_list",
    tag = "read models",
    summary = "Stats of every agent of the tenant",
    params(StatsQuery),
    responses((status = 200, description = "Every agent of the tenant with its stats", body = Vec<AgentStatsView>), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn all_agents(
    State(state): State<AppState>,
    operator: Operator,
    Query(q): Query<StatsQuery>,
) -> Result<Reply<Vec<AgentStatsView>>, Problem> {
    let tenant = tenant_of(&operator, q.tenant_id)?;
    state.caught_up(&AgentStats, q.min_position).await?;
    Ok(Reply(
        read(&state.database, &tenant, None, chrono::Utc::now()).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/agent-stats/{agent_id}",
    operation_id = "agent_stats",
    tag = "read models",
    summary = "Stats of one agent",
    params(("agent_id" = uuid::Uuid, Path), StatsQuery),
    responses((status = 200, description = "The agent's stats", body = AgentStatsView), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn one_agent(
    State(state): State<AppState>,
    operator: Operator,
    Path(agent_id): Path<AgentId>,
    Query(q): Query<StatsQuery>,
) -> Result<Reply<AgentStatsView>, Problem> {
    let tenant = tenant_of(&operator, q.tenant_id)?;
    state.caught_up(&AgentStats, q.min_position).await?;
    let mut found = read(
        &state.database,
        &tenant,
        Some(&agent_id.to_string()),
        chrono::Utc::now(),
    )
    .await?;
    found
        .pop()
        .map(Reply)
        .ok_or_else(|| Problem::not_found("agent not found"))
}
