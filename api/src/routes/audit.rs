//! Audit: tamper evidence over the whole chain, and any aggregate's state at
//! any point of its history.

use agentledger_domain::history::{HistoryError, fold_stream};
use agentledger_store::integrity::{Verification, verify};
use agentledger_store::{AsOf, Position};
use axum::Json as Reply;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Operator;
use crate::extract::{Path, Query};
use crate::problem::Problem;
use crate::state::AppState;

/// Stream versions read per page while folding.
const PAGE: usize = 1000;

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
    responses((status = 200, body = Verification), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn verify_chain(
    State(state): State<AppState>,
    operator: Operator,
) -> Result<Reply<Verification>, Problem> {
    operator.audit_scope()?;
    Ok(Reply(verify(&*state.store, |_| {}).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StateQuery {
    /// A log position, or an RFC 3339 time (events recorded at or before
    /// it). The current state when absent.
    #[param(value_type = Option<String>)]
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
    params(("stream_id" = String, Path), StateQuery),
    responses((status = 200, body = AggregateState), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn state_as_of(
    State(state): State<AppState>,
    operator: Operator,
    Path(stream_id): Path<String>,
    Query(query): Query<StateQuery>,
) -> Result<Reply<AggregateState>, Problem> {
    let scope = operator.audit_scope()?;
    let not_found = || Problem::not_found(format!("stream `{stream_id}` has no events"));
    // The stream's owner, from its first event: another tenant's stream does
    // not exist for an auditor.
    let owner = state.store.read_stream(&stream_id, 0, 1).await?;
    match owner.first() {
        Some(first) if scope.is_none_or(|t| t.0 == first.tenant_id) => {}
        _ => return Err(not_found()),
    }
    let mut events = Vec::new();
    let mut from = 0;
    loop {
        let page = state.store.read_stream(&stream_id, from, PAGE).await?;
        let mut ended = page.len() < PAGE;
        for event in page {
            if query.as_of.is_some_and(|a| !a.includes(&event)) {
                ended = true;
                break;
            }
            events.push(event);
        }
        if ended {
            break;
        }
        from += PAGE as u64;
    }
    let folded = fold_stream(
        &stream_id,
        events.iter().map(|e| (e.event_type.as_str(), &e.payload)),
    )
    .map_err(|e| match e {
        HistoryError::NotAnAggregate(_) => Problem::bad_request(e.to_string()),
        HistoryError::Codec(_) | HistoryError::Encode(_) => {
            tracing::error!(error = %e, stream_id, "stored events do not fold");
            Problem::internal()
        }
    })?;
    let last = events.last();
    Ok(Reply(AggregateState {
        stream_id,
        aggregate: folded.aggregate.to_owned(),
        version: last.map(|e| e.stream_version),
        position: last.map_or(0, |e| e.position),
        recorded_at: last.map(|e| e.recorded_at),
        state: folded.state,
    }))
}
