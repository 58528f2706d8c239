//! Errors as `application/problem+json` (RFC 9457). Each kind has a stable
//! `type` URI that clients can match on.

use agentledger_app::AppError;
use agentledger_commands::CommandError;
use agentledger_commands::reports::BatchRefused;
use agentledger_domain::DomainError;
use agentledger_domain::budget::{BudgetScope, Measure, Period};
use agentledger_domain::reports::MAX_BATCH;
use agentledger_projections::engine::ProjectionError;
use agentledger_projections::wire::dollars;
use agentledger_store::StoreError;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Extension members (RFC 9457 §3.2), such as the current stream version.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: Map<String, Value>,
    /// Sent as `Retry-After` (seconds) with 429 and 503.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &'static str) -> Self {
        Self {
            kind: format!("/problems/{slug}"),
            title,
            status: status.as_u16(),
            detail: None,
            extensions: Map::new(),
            retry_after: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "The request is invalid",
        )
        .detail(detail)
    }

    /// A request the document allows that a rule it cannot state refuses:
    /// one parameter against another, a moment in the future, a position
    /// past the end of the log. 400 stays for requests the document itself
    /// rules out.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable-request",
            "The request cannot be answered as asked",
        )
        .detail(detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found").detail(detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
        )
        .detail(detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed").detail(detail)
    }

    pub fn too_many_requests(retry_after: std::time::Duration) -> Self {
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        let mut problem = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
        )
        .detail(format!("retry in {seconds} s"));
        problem.retry_after = Some(seconds.max(1));
        problem
    }

    /// A failure of ours, not the caller's; the cause goes to the log.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
        )
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
        )
        .detail(detail)
    }
}

/// A plain request to the WebSocket route: it must ask for the upgrade.
impl From<axum::extract::ws::rejection::WebSocketUpgradeRejection> for Problem {
    fn from(rejection: axum::extract::ws::rejection::WebSocketUpgradeRejection) -> Self {
        Self::new(
            StatusCode::UPGRADE_REQUIRED,
            "websocket-required",
            "This route speaks WebSocket",
        )
        .detail(rejection.body_text())
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.detail {
            Some(detail) => write!(f, "{}: {detail}", self.title),
            None => f.write_str(self.title),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body is still on the wire; the connection cannot
            // carry another request, so tell the client not to reuse it.
            response.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

impl From<StoreError> for Problem {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict {
                stream,
                expected,
                actual,
            } => Problem::new(
                StatusCode::CONFLICT,
                "wrong-expected-version",
                "The stream is not at the expected version",
            )
            .detail(format!("stream `{stream}` expected {expected:?}"))
            .with("stream_id", stream)
            .with("current_version", actual),
            StoreError::IdempotencyMismatch { event_id } => Problem::new(
                StatusCode::CONFLICT,
                "event-id-reused",
                "An event id was reused for a different event",
            )
            .detail(format!("event {event_id} is already stored elsewhere"))
            .with("event_id", event_id.to_string()),
            StoreError::InvalidAppend(why) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-append",
                "The events cannot be appended",
            )
            .detail(why),
            StoreError::Closed => Problem::unavailable("the server is shutting down"),
            other => {
                tracing::error!(error = %other, "store failure");
                Problem::internal().detail(
                    "the event store failed; the request may be retried with the same event ids",
                )
            }
        }
    }
}

impl From<ProjectionError> for Problem {
    fn from(e: ProjectionError) -> Self {
        tracing::error!(error = %e, "read model query failed");
        Problem::unavailable("the read model cannot be read right now")
    }
}

impl From<AppError> for Problem {
    fn from(err: AppError) -> Self {
        match err {
            AppError::Command(e) => e.into(),
            AppError::Store(e) => e.into(),
            AppError::ReadModel(e) => e.into(),
            AppError::Export(e) => {
                tracing::error!(error = %e, "export cannot start");
                Problem::unavailable("the export cannot start right now")
            }
            AppError::Unfoldable { .. } => {
                tracing::error!(error = %err, "stored events do not fold");
                Problem::internal()
            }
            AppError::Batch(refused) => refused.into(),
            AppError::Unavailable(detail) => Problem::unavailable(detail),
            AppError::BadRequest(detail) => Problem::bad_request(detail),
            AppError::IdempotencyKeyInUse => Problem::new(
                StatusCode::CONFLICT,
                "idempotency-key-in-use",
                "A request with this key is still running",
            )
            .detail(err.to_string()),
            AppError::IdempotencyKeyReused => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "The key was used for a different request",
            )
            .detail(err.to_string()),
            AppError::Unprocessable(detail) => Problem::unprocessable(detail),
            AppError::NotFound(detail) => Problem::not_found(detail),
            AppError::Unauthorized(detail) => Problem::unauthorized(detail),
            AppError::Forbidden(detail) => Problem::forbidden(detail),
            AppError::RateLimited(wait) => Problem::too_many_requests(wait),
            AppError::OverBudget {
                ref scope,
                period,
                measure,
                used,
                limit,
                until,
                wait,
            } => over_budget(scope, period, measure, used, limit, until, wait),
            AppError::PastHead { head, .. } => {
                Problem::unprocessable(err.to_string()).with("head_position", head)
            }
            AppError::NotCaughtUp { current, .. } => {
                let mut problem = Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not-caught-up",
                    "The read model has not reached min_position",
                )
                .detail(err.to_string())
                .with("current_position", current);
                problem.retry_after = Some(1);
                problem
            }
        }
    }
}

/// A budget's hard stop: which budget, how far it is spent (money in US
/// dollars, as everywhere), and when it lifts, also as `Retry-After`.
fn over_budget(
    scope: &BudgetScope,
    period: Period,
    measure: Measure,
    used: i64,
    limit: i128,
    until: DateTime<Utc>,
    wait: std::time::Duration,
) -> Problem {
    let (used, limit): (Value, Value) = match measure {
        Measure::Tokens => (used.into(), i64::try_from(limit).unwrap_or(i64::MAX).into()),
        Measure::Cost => (dollars(used).into(), (limit as f64 / 1e6).into()),
    };
    // A model's budget holds back reports of its runs; the others, an
    // agent's task claims too.
    let refused = match scope {
        BudgetScope::Model { .. } => "no reports of its runs",
        _ => "no task claims or run reports",
    };
    let budget = scope.limit_name(period, measure);
    let mut problem = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "budget-exhausted",
        "A budget is spent",
    )
    .detail(format!(
        "{budget} is spent ({used} of {limit}): {refused} until {} or until the limit is raised",
        until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    ))
    .with("budget", serde_json::to_value(scope).unwrap_or(Value::Null))
    .with("period", period.adjective())
    .with("measure", measure.as_str())
    .with("used", used)
    .with("limit", limit)
    .with(
        "lifts_at",
        until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    problem.retry_after = Some(wait.as_secs().max(1));
    problem
}

impl From<BatchRefused> for Problem {
    fn from(refused: BatchRefused) -> Self {
        let invalid = || {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "The command is not valid",
            )
        };
        match refused {
            BatchRefused::Failed(e) => e.into(),
            BatchRefused::Size(count) => invalid().detail(format!(
                "a batch holds 1 to {MAX_BATCH} actions; this one holds {count}; none was recorded"
            )),
            BatchRefused::Invalid(errors) => {
                let items: Vec<_> = errors
                    .iter()
                    .map(|(index, e)| serde_json::json!({ "index": index, "error": e.to_string() }))
                    .collect();
                invalid()
                    .detail(format!(
                        "{} of the actions are invalid (at most {MAX_BATCH} per batch); none was recorded",
                        items.len()
                    ))
                    .with("errors", items)
            }
        }
    }
}

impl From<CommandError> for Problem {
    fn from(err: CommandError) -> Self {
        match err {
            CommandError::Domain(e) => e.into(),
            CommandError::Store(e) => e.into(),
            CommandError::Unauthorized(why) => Problem::unauthorized(why),
            CommandError::Contention(stream) => {
                let mut problem =
                    Problem::unavailable(format!("`{stream}` is changing too fast; retry"));
                problem.retry_after = Some(1);
                problem
            }
            other => {
                tracing::error!(error = %other, "command failed");
                Problem::internal()
            }
        }
    }
}

impl From<DomainError> for Problem {
    fn from(err: DomainError) -> Self {
        let detail = err.to_string();
        match err {
            DomainError::NotFound(_) => Problem::not_found(detail),
            DomainError::AlreadyExists(_) => {
                Problem::new(StatusCode::CONFLICT, "already-exists", "Already exists")
                    .detail(detail)
            }
            DomainError::InvalidTransition { state, .. } => Problem::new(
                StatusCode::CONFLICT,
                "invalid-transition",
                "Not allowed in the current state",
            )
            .detail(detail)
            .with("current_state", state),
            DomainError::Forbidden(_) => Problem::forbidden(detail),
            DomainError::Expired(_) => {
                Problem::new(StatusCode::GONE, "expired", "Expired").detail(detail)
            }
            DomainError::Invalid(_) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "The command is not valid",
            )
            .detail(detail),
        }
    }
}
