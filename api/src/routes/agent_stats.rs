//! Agent stats read model: every agent of the tenant, or one.

use agentledger_app::caller::Operator;
use agentledger_app::queries::agent_stats;
use agentledger_domain::ids::AgentId;
use agentledger_projections::agent_stats::AgentStatsView;
use axum::Json as Reply;
use axum::extract::State;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::extract::{Path, Query};
use crate::problem::Problem;
use crate::routes::read_lists::ReadQuery;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(all_agents))
        .routes(routes!(one_agent))
}

#[utoipa::path(
    get,
    path = "/api/v1/agent-stats",
    operation_id = "agent_stats_list",
    tag = "read models",
    summary = "Stats of every agent of the tenant",
    params(ReadQuery),
    responses((status = 200, description = "Every agent of the tenant with its stats", body = Vec<AgentStatsView>), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn all_agents(
    State(state): State<AppState>,
    operator: Operator,
    Query(q): Query<ReadQuery>,
) -> Result<Reply<Vec<AgentStatsView>>, Problem> {
    let found = agent_stats::all(&state, &operator, q.tenant_id, q.min_position).await?;
    Ok(Reply(found.value))
}

#[utoipa::path(
    get,
    path = "/api/v1/agent-stats/{agent_id}",
    operation_id = "agent_stats",
    tag = "read models",
    summary = "Stats of one agent",
    params(("agent_id" = uuid::Uuid, Path), ReadQuery),
    responses((status = 200, description = "The agent's stats", body = AgentStatsView), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn one_agent(
    State(state): State<AppState>,
    operator: Operator,
    Path(agent_id): Path<AgentId>,
    Query(q): Query<ReadQuery>,
) -> Result<Reply<AgentStatsView>, Problem> {
    let found = agent_stats::one(&state, &operator, agent_id, q.tenant_id, q.min_position).await?;
    Ok(Reply(found.value))
}
