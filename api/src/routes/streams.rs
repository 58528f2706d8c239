//! Raw access to the log: append to a stream with an expected version (admins:
//! imports and repairs), read a stream or the global log with audit filters
//! (admins and auditors; an auditor sees only its tenant's events).

use agentledger_app::audit;
use agentledger_app::event_filter::EventQuery;
use agentledger_app::raw_append;
use agentledger_domain::{Actor, ActorKind};
use agentledger_store::{ExpectedVersion, NewEvent, RecordedEvent};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::extract::{Json, Path, Query};
use crate::problem::Problem;
use crate::state::AppState;
use agentledger_app::caller::Operator;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(append, read_stream))
        .routes(routes!(read_all))
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
    operation_id = "append_events",
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
    let events: Vec<NewEvent> = body.events.into_iter().map(NewEvent::from).collect();
    let expected = body.expected_version.into();
    let outcome = raw_append::append(&state, &operator, &stream_id, expected, events).await?;
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

// The log is paged by position and a stream by version: one struct each, so
// the document lists for each route only the parameters it takes. The
// filters are the same.

/// Which events of the log to read, and where to start.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// The first position to read (`next` of the previous page).
    pub from_position: Option<u64>,
    /// Events per page, 1 to 1000 (100 by default).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// Comma-separated event types.
    pub types: Option<String>,
    /// One tenant's events only (admins; an auditor's own tenant always).
    pub tenant_id: Option<Uuid>,
    /// `agent`, `operator` or `system`.
    pub actor_kind: Option<ActorKind>,
    /// The agent id, API key id or system component that caused the event.
    pub actor_id: Option<String>,
    /// Everything one request caused, across streams (`X-Correlation-Id`).
    pub correlation_id: Option<Uuid>,
    /// Occurred at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Occurred before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
}

/// Which events of a stream to read, and where to start.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// The first version to read (`next` of the previous page).
    pub from_version: Option<u64>,
    /// Events per page, 1 to 1000 (100 by default).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// Comma-separated event types.
    pub types: Option<String>,
    /// One tenant's events only (admins; an auditor's own tenant always).
    pub tenant_id: Option<Uuid>,
    /// `agent`, `operator` or `system`.
    pub actor_kind: Option<ActorKind>,
    /// The agent id, API key id or system component that caused the event.
    pub actor_id: Option<String>,
    /// Everything one request caused, across streams (`X-Correlation-Id`).
    pub correlation_id: Option<Uuid>,
    /// Occurred at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Occurred before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
}

macro_rules! event_query {
    ($query:ty) => {
        impl $query {
            /// The filters these parameters ask for.
            fn events(&self) -> EventQuery<'_> {
                EventQuery {
                    tenant_id: self.tenant_id,
                    types: self.types.as_deref(),
                    actor_kind: self.actor_kind,
                    actor_id: self.actor_id.as_deref(),
                    correlation_id: self.correlation_id,
                    from: self.from,
                    to: self.to,
                }
            }
        }
    };
}
event_query!(LogQuery);
event_query!(StreamQuery);

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct EventPage {
    pub events: Vec<RecordedEvent>,
    /// Where the next page starts (`from_position` or `from_version`), while
    /// there may be more.
    pub next: Option<u64>,
}

/// A stream with its full envelopes, filtered like the log. A page covers
/// `limit` versions of the stream; with filters it may hold fewer events.
#[utoipa::path(
    get,
    path = "/api/v1/streams/{stream_id}/events",
    tag = "audit",
    summary = "Read a stream, with filters (admin, auditor)",
    params(("stream_id" = String, Path), StreamQuery),
    responses((status = 200, description = "A page of the stream's events", body = EventPage), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn read_stream(
    State(state): State<AppState>,
    operator: Operator,
    Path(stream_id): Path<String>,
    Query(query): Query<StreamQuery>,
) -> Result<axum::Json<EventPage>, Problem> {
    let page = audit::read_stream(
        &state,
        &operator,
        &stream_id,
        query.from_version,
        query.limit,
        &query.events(),
    )
    .await?;
    Ok(axum::Json(EventPage {
        events: page.events,
        next: page.next,
    }))
}

/// The whole log in position order, filtered by type, tenant, actor,
/// correlation id and time. Filters by actor and correlation id use indexes;
/// a time range alone is found by reading the log from `from_position` on.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    operation_id = "read_log",
    tag = "audit",
    summary = "Read the global log, with filters (admin, auditor)",
    params(LogQuery),
    responses((status = 200, description = "A page of the log's events", body = EventPage), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn read_all(
    State(state): State<AppState>,
    operator: Operator,
    Query(query): Query<LogQuery>,
) -> Result<axum::Json<EventPage>, Problem> {
    let page = audit::read_log(
        &state,
        &operator,
        query.from_position,
        query.limit,
        &query.events(),
    )
    .await?;
    Ok(axum::Json(EventPage {
        events: page.events,
        next: page.next,
    }))
}
