//! `/metrics`: counts and times every request, and serves the process's
//! metrics (`agentledger_app::metrics`) in the Prometheus text format.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// Counts and times every request, by its route pattern (not its path, so ids
/// do not explode the label set).
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.request_answered(
        &method,
        &route,
        response.status().as_str(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// The registry in the Prometheus text format, with the positions and lags
/// read when asked.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    summary = "Prometheus metrics",
    responses(
        (status = 200, description = "The Prometheus text exposition format, version 0.0.4", body = String, content_type = "text/plain"),
        crate::openapi::Problems
    ),
)]
pub async fn render(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(&state).await;
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
