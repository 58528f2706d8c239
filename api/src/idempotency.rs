//! `Idempotency-Key` on commands: a retry with the same key and request gets
//! the first answer, byte for byte, also after a restart; the same key with
//! another request is refused. Keys are scoped to the caller, so one caller
//! never sees another's answers.

use agentledger_commands::auth::{Principal, authenticate_api_key, is_api_key};
use agentledger_commands::secrets::sha256_hex;
use agentledger_store::{Claim, IdempotencyStore, StoredAnswer};

use crate::auth::CORRELATION_HEADER;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

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
    let key = match key.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= 255 => k.to_owned(),
        _ => {
            return Problem::bad_request(
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
            .into_response();
        }
    };
    // Without valid credentials there is no idempotency: the route refuses
    // the request, or it is a login, which is safe to repeat and whose
    // tokens must never be stored.
    let Some(scope) = scope(&state, request.headers()).await else {
        return next.run(request).await;
    };
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
    let fingerprint = sha256_hex(&format!(
        "{} {target}\n{}",
        parts.method,
        String::from_utf8_lossy(&bytes)
    ));
    let now = chrono::Utc::now().timestamp();
    let claim = match state
        .idempotency
        .claim(&scope, &key, &fingerprint, now)
        .await
    {
        Ok(claim) => claim,
        Err(e) => return Problem::from(e).into_response(),
    };
    match claim {
        Claim::New => {
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            remember(&*state.idempotency, &scope, &key, response).await
        }
        Claim::Replay(answer) => replay(answer),
        Claim::InProgress => Problem::new(
            StatusCode::CONFLICT,
            "idempotency-key-in-use",
            "A request with this key is still running",
        )
        .detail("retry when the first request has been answered")
        .into_response(),
        Claim::Mismatch => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "The key was used for a different request",
        )
        .detail("an Idempotency-Key names one request: same method, path and body")
        .into_response(),
    }
}

/// Whose keys these are: the API key or the agent behind the token.
async fn scope(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let token = headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?
        .trim();
    if is_api_key(token) {
        match authenticate_api_key(&state.handler, token).await.ok()? {
            Principal::Operator { key_id, .. } => Some(format!("key:{key_id}")),
            Principal::Agent { .. } => None,
        }
    } else {
        state
            .tokens
            .verify(token)
            .ok()
            .map(|claims| format!("agent:{}", claims.sub))
    }
}

/// Stores a final answer (anything but a server error) and passes it on.
async fn remember(
    store: &dyn IdempotencyStore,
    scope: &str,
    key: &str,
    response: Response,
) -> Response {
    let status = response.status();
    if status.is_server_error() {
        let _ = store.release(scope, key).await;
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        let _ = store.release(scope, key).await;
        return Problem::internal().into_response();
    };
    let answer = StoredAnswer {
        status: status.as_u16(),
        content_type: parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: match parts.extensions.get::<Withhold>() {
            Some(Withhold(fields)) => withheld(&bytes, fields),
            None => String::from_utf8_lossy(&bytes).into_owned(),
        },
        correlation_id: parts
            .headers
            .get(CORRELATION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    if let Err(e) = store.complete(scope, key, &answer).await {
        tracing::warn!(error = %e, "cannot remember an idempotent answer");
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn withheld(bytes: &[u8], fields: &[&str]) -> String {
    let mut value: serde_json::Value =
        serde_json::from_slice(bytes).unwrap_or(serde_json::Value::Null);
    if let Some(object) = value.as_object_mut() {
        for field in fields {
            if let Some(secret) = object.get_mut(*field) {
                *secret = serde_json::Value::Null;
            }
        }
        object.insert("secret_withheld".into(), serde_json::Value::Bool(true));
    }
    value.to_string()
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
