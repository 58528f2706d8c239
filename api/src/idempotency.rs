//! `Idempotency-Key` over HTTP: the middleware that hands a keyed command's
//! request and answer to the app's policy (`agentledger_app::idempotency`)
//! and replays a remembered answer.

use agentledger_app::idempotency::{self, Answer, Begin, Ticket};
use agentledger_store::StoredAnswer;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::{CORRELATION_HEADER, bearer_of};
use crate::problem::Problem;
use crate::server::MAX_BODY_BYTES;
use crate::state::AppState;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Response extension set by routes that answer with a secret shown once
/// (agent secrets, API keys, webhook secrets): the remembered copy has these
/// JSON fields replaced by `null` and `"secret_withheld": true` added, so a
/// retry learns what was created without the secret ever being stored.
#[derive(Debug, Clone, Copy)]
pub struct Withhold(pub &'static [&'static str]);

/// Marks `response` as carrying the secrets in `fields`.
pub fn withholding(response: impl IntoResponse, fields: &'static [&'static str]) -> Response {
    let mut response = response.into_response();
    response.extensions_mut().insert(Withhold(fields));
    response
}

pub async fn idempotent(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(key) = request.headers().get(HEADER).cloned() else {
        return next.run(request).await;
    };
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY_BYTES).await else {
        return Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "The request body is too large",
        )
        .into_response();
    };
    let target = parts.uri.path_and_query().map_or("", |p| p.as_str());
    let begun = idempotency::begin(
        &state,
        bearer_of(&parts.headers),
        // Not visible ASCII: refused like an empty key.
        key.to_str().unwrap_or_default(),
        parts.method.as_str(),
        target,
        &bytes,
    )
    .await;
    let request = Request::from_parts(parts, Body::from(bytes));
    match begun {
        Ok(Begin::Untracked) => next.run(request).await,
        Ok(Begin::Proceed(ticket)) => remember(&state, ticket, next.run(request).await).await,
        Ok(Begin::Replay(answer)) => replay(answer),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// Hands the answer to the app to remember, and passes it on.
async fn remember(state: &AppState, ticket: Ticket, response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        idempotency::abandon(state, ticket).await;
        return Problem::internal().into_response();
    };
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let answer = Answer {
        status: parts.status.as_u16(),
        content_type: header(CONTENT_TYPE.as_str()),
        body: &bytes,
        correlation_id: header(CORRELATION_HEADER),
        secrets: parts.extensions.get::<Withhold>().map_or(&[], |w| w.0),
    };
    idempotency::finish(state, ticket, answer).await;
    Response::from_parts(parts, Body::from(bytes))
}

fn replay(answer: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    if let Some(content_type) = answer
        .content_type
        .and_then(|c| HeaderValue::from_str(&c).ok())
    {
        headers.insert(CONTENT_TYPE, content_type);
    }
    if let Some(correlation) = answer
        .correlation_id
        .and_then(|c| HeaderValue::from_str(&c).ok())
    {
        headers.insert(CORRELATION_HEADER, correlation);
    }
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}
