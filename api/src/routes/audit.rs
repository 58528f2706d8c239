//! Audit: tamper evidence over the whole chain, and any aggregate's state at
//! any point of its history.

use agentledger_app::audit;
use agentledger_app::caller::Operator;
use agentledger_store::integrity::Verification;
use agentledger_store::{AsOf, Position};
use axum::Json as Reply;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::extract::{Path, Query};
use crate::problem::Problem;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(verify_chain))
        .routes(routes!(state_as_of))
}

/// Walks the whole chain; its cost grows with the length of the log.
#[utoipa::path(
    get,
    path = "/api/v1/audit/verify",
    tag = "audit",
    summary = "Verify the hash chain of the whole log (admin, auditor)",
    responses((status = 200, description = "The result of the walk: intact, or where the chain breaks", body = Verification), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn verify_chain(
    State(state): State<AppState>,
    operator: Operator,
) -> Result<Reply<Verification>, Problem> {
    Ok(Reply(audit::verify_chain(&state, &operator).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StateQuery {
    /// A log position, or an RFC 3339 time (events recorded at or before
    /// it). The current state when absent.
    #[param(inline, value_type = Option<crate::read_model::AsOfParam>)]
    pub as_of: Option<AsOf>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AggregateState {
    pub stream_id: String,
    /// The kind of aggregate: `agent`, `task`, `tenant`, `apikey`, …
    pub aggregate: String,
    /// The stream's last version folded (`null`: the stream did not exist yet).
    pub version: Option<u64>,
    /// The log position of that event (0 when none).
    pub position: Position,
    /// When that event was recorded.
    pub recorded_at: Option<DateTime<Utc>>,
    /// The state, as the aggregate's own `evolve` leaves it (secret hashes left out).
    #[schema(value_type = Object)]
    pub state: Value,
}

/// Folds the stream's events up to the point asked for with the aggregate's
/// own `evolve`: the state every command saw at that moment.
#[utoipa::path(
    get,
    path = "/api/v1/streams/{stream_id}/state",
    tag = "audit",
    summary = "An aggregate's state as of a position or time (admin, auditor)",
    params(("stream_id" = String, Path, description = "An aggregate's stream: `agent-…`, `task-…`, `tenant-…`, `apikey-…`, `budget-…`, `batch-…`, `alert-…`, `webhook-…`, `delivery-…`, `command-…`, `cmdtemplate-…`, `taskdedup-…`, `system-…` or `enrollment-…`; any other answers 422"), StateQuery),
    responses((status = 200, description = "The aggregate's state", body = AggregateState), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn state_as_of(
    State(state): State<AppState>,
    operator: Operator,
    Path(stream_id): Path<String>,
    Query(query): Query<StateQuery>,
) -> Result<Reply<AggregateState>, Problem> {
    let past = audit::state_as_of(&state, &operator, &stream_id, query.as_of).await?;
    Ok(Reply(AggregateState {
        stream_id,
        aggregate: past.aggregate.to_owned(),
        version: past.version,
        position: past.position,
        recorded_at: past.recorded_at,
        state: past.state,
    }))
}
