//! Raw access to the log: append to a stream with an expected version (admins:
//! imports and repairs), read a stream, read the global log (admins and
//! auditors; an auditor sees only its tenant's events).

use agentledger_domain::Actor;
use agentledger_domain::api_key::Role;
use agentledger_store::{AppendOutcome, EventFilter, ExpectedVersion, NewEvent, RecordedEvent};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::Operator;
use crate::extract::{Json, Path, Query, comma_list};
use crate::problem::Problem;
use crate::state::AppState;

/// Most events one read returns.
pub const MAX_PAGE: usize = 1000;
const DEFAULT_PAGE: usize = 100;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(append, read_stream))
        .routes(routes!(read_all))
        .routes(routes!(verify_chain))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppendRequest {
    #[serde(default)]
    pub expected_version: ExpectedVersionBody,
    pub events: Vec<EventBody>,
}

/// `"any"`, `"no_stream"`, `"exists"` or the exact last version as a number.
#[derive(Debug, utoipa::ToSchema, Clone, Copy, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ExpectedVersionBody {
    Named(NamedExpectation),
    Exact(u64),
}

#[derive(Debug, utoipa::ToSchema, Clone, Copy, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NamedExpectation {
    Any,
    NoStream,
    Exists,
}

impl Default for ExpectedVersionBody {
    fn default() -> Self {
        Self::Named(NamedExpectation::Any)
    }
}

impl From<ExpectedVersionBody> for ExpectedVersion {
    fn from(body: ExpectedVersionBody) -> Self {
        match body {
            ExpectedVersionBody::Named(NamedExpectation::Any) => ExpectedVersion::Any,
            ExpectedVersionBody::Named(NamedExpectation::NoStream) => ExpectedVersion::NoStream,
            ExpectedVersionBody::Named(NamedExpectation::Exists) => ExpectedVersion::Exists,
            ExpectedVersionBody::Exact(v) => ExpectedVersion::Exact(v),
        }
    }
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBody {
    /// The idempotency key; generated when absent (the append is then not retry-safe).
    pub event_id: Option<Uuid>,
    pub event_type: String,
    pub schema_version: Option<i32>,
    pub tenant_id: Uuid,
    pub occurred_at: Option<DateTime<Utc>>,
    pub actor: Actor,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    pub payload: Value,
}

impl From<EventBody> for NewEvent {
    fn from(body: EventBody) -> Self {
        let mut event = NewEvent::new(body.tenant_id, body.actor, body.event_type, body.payload);
        if let Some(id) = body.event_id {
            event.event_id = id;
        }
        if let Some(v) = body.schema_version {
            event.schema_version = v;
        }
        if let Some(at) = body.occurred_at {
            // Stored at microsecond precision; truncate so it reads back as hashed.
            event.occurred_at = at.trunc_subsecs(6);
        }
        event.correlation_id = body.correlation_id;
        event.causation_id = body.causation_id;
        event
    }
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct AppendResponse {
    pub stream_id: String,
    /// Global position of the last appended event.
    pub position: u64,
    /// True when every event was already stored: this answer is the original one.
    pub deduplicated: bool,
    pub events: Vec<agentledger_store::Committed>,
}

#[utoipa::path(
    post,
    path = "/api/v1/streams/{stream_id}/events",
    tag = "log",
    summary = "Append raw events to a stream (admin)",
    params(("stream_id" = String, Path)),
    request_body = AppendRequest,
    responses((status = 201, description = "Appended", body = AppendResponse), (status = 200, description = "Every event id was already stored: the original placement", body = AppendResponse), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn append(
    State(state): State<AppState>,
    operator: Operator,
    Path(stream_id): Path<String>,
    Json(body): Json<AppendRequest>,
) -> Result<impl IntoResponse, Problem> {
    operator.require_admin()?;
    let events: Vec<NewEvent> = body.events.into_iter().map(NewEvent::from).collect();
    let outcome: AppendOutcome = state
        .store
        .append(&stream_id, body.expected_version.into(), events)
        .await?;
    let status = if outcome.deduplicated {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let response = AppendResponse {
        stream_id,
        position: outcome.last_position(),
        deduplicated: outcome.deduplicated,
        events: outcome.events,
    };
    Ok((status, axum::Json(response)))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    #[serde(default)]
    pub from_version: u64,
    pub limit: Option<usize>,
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct EventPage {
    pub events: Vec<RecordedEvent>,
    /// Where the next page starts, when this page was full.
    pub next: Option<u64>,
}

fn page_limit(limit: Option<usize>) -> Result<usize, Problem> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(Problem::bad_request(format!(
            "limit must be 1 to {MAX_PAGE}, not {n}"
        ))),
    }
}

/// Admins read everything; auditors their own tenant.
fn audit_scope(operator: &Operator) -> Result<Option<Uuid>, Problem> {
    match operator.role {
        Role::Admin => Ok(None),
        Role::Auditor => Ok(Some(operator.tenant_id.0)),
        _ => Err(Problem::forbidden(
            "reading the raw log needs an admin or auditor key",
        )),
    }
}

/// Walks the whole chain; its cost grows with the length of the log.
#[utoipa::path(
    get,
    path = "/api/v1/audit/verify",
    tag = "log",
    summary = "Verify the hash chain of the whole log (admin, auditor)",
    responses((status = 200, body = agentledger_store::integrity::Verification), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn verify_chain(
    State(state): State<AppState>,
    operator: Operator,
) -> Result<axum::Json<agentledger_store::integrity::Verification>, Problem> {
    audit_scope(&operator)?;
    Ok(axum::Json(
        agentledger_store::integrity::verify(&*state.store, |_| {}).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/streams/{stream_id}/events",
    tag = "log",
    summary = "Read a stream (admin, auditor)",
    params(("stream_id" = String, Path)),
    responses((status = 200, body = EventPage), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn read_stream(
    State(state): State<AppState>,
    operator: Operator,
    Path(stream_id): Path<String>,
    Query(query): Query<StreamQuery>,
) -> Result<axum::Json<EventPage>, Problem> {
    let scope = audit_scope(&operator)?;
    let limit = page_limit(query.limit)?;
    let mut events = state
        .store
        .read_stream(&stream_id, query.from_version, limit)
        .await?;
    // A stream belongs to one tenant: another tenant's stream does not exist
    // for an auditor.
    if let Some(tenant) = scope
        && events.iter().any(|e| e.tenant_id != tenant)
    {
        events.clear();
    }
    if events.is_empty() && query.from_version == 0 {
        return Err(Problem::not_found(format!(
            "stream `{stream_id}` has no events"
        )));
    }
    let next = (events.len() == limit)
        .then(|| events.last().map(|e| e.stream_version + 1))
        .flatten();
    Ok(axum::Json(EventPage { events, next }))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    #[serde(default)]
    pub from_position: u64,
    pub limit: Option<usize>,
    /// Comma-separated event types.
    pub types: Option<String>,
    pub tenant_id: Option<Uuid>,
}

#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "log",
    summary = "Read the global log (admin, auditor)",
    responses((status = 200, body = EventPage), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn read_all(
    State(state): State<AppState>,
    operator: Operator,
    Query(query): Query<LogQuery>,
) -> Result<axum::Json<EventPage>, Problem> {
    let scope = audit_scope(&operator)?;
    let limit = page_limit(query.limit)?;
    let filter = EventFilter {
        event_types: comma_list(query.types.as_deref()),
        tenant_id: scope.or(query.tenant_id),
    };
    let events = state
        .store
        .read_all(query.from_position, limit, &filter)
        .await?;
    let next = (events.len() == limit)
        .then(|| events.last().map(|e| e.position + 1))
        .flatten();
    Ok(axum::Json(EventPage { events, next }))
}
