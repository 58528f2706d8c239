//! Who is calling, from the `Authorization: Bearer …` header: an operator API
//! key (`alk_…`) or an agent access token (a JWT), checked by the app
//! (`agentledger_app::caller`); and the correlation id of every request.

use agentledger_app::caller::{AgentCaller, Caller, Operator};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use uuid::Uuid;

use crate::problem::Problem;
use crate::state::AppState;

fn bearer(parts: &Parts) -> Result<&str, Problem> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| Problem::unauthorized("an Authorization: Bearer header is required"))?;
    let value = header
        .to_str()
        .map_err(|_| Problem::unauthorized("malformed Authorization header"))?;
    bearer_token(value).ok_or_else(|| Problem::unauthorized("expected a Bearer token"))
}

/// The token of a `Bearer` credential; the scheme is case-insensitive (RFC
/// 9110 §11.1): `bearer` is as good.
fn bearer_token(value: &str) -> Option<&str> {
    value
        .trim_start()
        .split_once([' ', '\t'])
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
}

/// The bearer token of a request, if it has a well-formed one.
pub fn bearer_of(headers: &axum::http::HeaderMap) -> Option<&str> {
    bearer_token(headers.get(AUTHORIZATION)?.to_str().ok()?)
}

/// The `X-Correlation-Id` a client sent, or a new one: every event a request
/// causes carries it, so an audit can follow the request across streams.
pub fn correlation_id(parts: &Parts) -> Uuid {
    correlation_of(&parts.headers)
}

/// The same, from the headers alone (for routes without credentials).
pub fn correlation_of(headers: &axum::http::HeaderMap) -> Uuid {
    headers
        .get(CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(Uuid::now_v7)
}

/// Gives every request a correlation id (the client's `X-Correlation-Id` if it
/// sent a valid one) and answers with it, so a client can look up in the log
/// everything its request caused.
pub async fn correlate(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (mut parts, body) = request.into_parts();
    let id = correlation_id(&parts);
    let value = axum::http::HeaderValue::from_str(&id.to_string())
        .unwrap_or_else(|_| axum::http::HeaderValue::from_static(""));
    parts.headers.insert(CORRELATION_HEADER, value.clone());
    request = axum::extract::Request::from_parts(parts, body);
    let mut response = next.run(request).await;
    response.headers_mut().insert(CORRELATION_HEADER, value);
    response
}

pub const CORRELATION_HEADER: &str = "x-correlation-id";

impl FromRequestParts<AppState> for Operator {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let token = bearer(parts)?;
        Ok(state.operator(token, correlation_id(parts)).await?)
    }
}

impl FromRequestParts<AppState> for AgentCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let token = bearer(parts)?;
        Ok(state.agent(token, correlation_id(parts)).await?)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let token = bearer(parts)?;
        Ok(state.caller(token, correlation_id(parts)).await?)
    }
}
