//! Audit: tamper evidence over the whole chain, and any aggregate's state at
//! any point of its history.

use agentledger_domain::history::{self, HistoryError};
use agentledger_store::integrity::{Verification, verify};
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
use agentledger_app::caller::Operator;

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
    responses((status = 200, description = "The result of the walk: intact, or where the chain breaks", body = Verification), crate::openapi::Problems),
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
    params(("stream_id" = String, Path, description = "An aggregate's stream: `agent-…`, `task-…`, `tenant-…`, `apikey-…`, `budget-…`, `batch-…`, `alert-…`, `webhook-…`, `command-…`, `cmdtemplate-…`, `taskdedup-…` or `system-…`; any other answers 422"), StateQuery),
    responses((status = 200, description = "The aggregate's state", body = AggregateState), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn state_as_of(
    State(state): State<AppState>,
    operator: Operator,
    Path(stream_id): Path<String>,
    Query(query): Query<StateQuery>,
) -> Result<Reply<AggregateState>, Problem> {
    let scope = operator.audit_scope()?;
    let as_of = crate::read_model::as_of_in_log(query.as_of)?;
    let not_found = || Problem::not_found(format!("stream `{stream_id}` has no events"));
    let mut folder =
        history::folder(&stream_id).map_err(|e| Problem::unprocessable(e.to_string()))?;
    let mut last = None;
    let mut from = 0;
    'pages: loop {
        let page = state.store.read_stream(&stream_id, from, PAGE).await?;
        let full = page.len() == PAGE;
        for event in page {
            // Another tenant's stream does not exist for an auditor.
            if scope.is_some_and(|t| t.0 != event.tenant_id) {
                return Err(not_found());
            }
            if as_of.is_some_and(|a| !a.includes(&event)) {
                break 'pages;
            }
            folder
                .apply_at(&event.event_type, event.schema_version, &event.payload)
                .map_err(|e| unfoldable(&stream_id, &e))?;
            last = Some((event.stream_version, event.position, event.recorded_at));
        }
        if !full {
            break;
        }
        from += PAGE as u64;
    }
    // A stream with no events at all does not exist; one that began after
    // the point asked for existed, but not yet.
    if last.is_none() && state.store.read_stream(&stream_id, 0, 1).await?.is_empty() {
        return Err(not_found());
    }
    let folded = folder.finish().map_err(|e| unfoldable(&stream_id, &e))?;
    Ok(Reply(AggregateState {
        stream_id,
        aggregate: folded.aggregate.to_owned(),
        version: last.map(|(version, _, _)| version),
        position: last.map_or(0, |(_, position, _)| position),
        recorded_at: last.map(|(_, _, at)| at),
        state: folded.state,
    }))
}

/// Stored events that the aggregate cannot fold: the log holds something its
/// code does not understand, which is the server's fault, not the caller's.
fn unfoldable(stream_id: &str, e: &HistoryError) -> Problem {
    tracing::error!(error = %e, stream_id, "stored events do not fold");
    Problem::internal()
}
