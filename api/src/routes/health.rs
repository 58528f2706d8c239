use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::problem::Problem;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
}

/// The process is up and answering.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    summary = "Liveness",
    responses((status = 200, description = "The process is up", body = Object), crate::openapi::Problems),
)]
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The event store answers: the server can take work.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    summary = "Readiness: the store is reachable",
    responses((status = 200, description = "The event store answers", body = Object), crate::openapi::Problems),
)]
async fn ready(State(state): State<AppState>) -> Result<Json<Value>, Problem> {
    let head = state
        .store
        .head_position()
        .await
        .map_err(|e| Problem::unavailable(format!("event store unreachable: {e}")))?;
    // How far each model has applied the log: `lag` events behind the head.
    let projections: Vec<Value> = state
        .models()
        .into_iter()
        .map(|(name, progress)| {
            let position = progress.position();
            json!({ "name": name, "position": position, "lag": head.saturating_sub(position) })
        })
        .collect();
    Ok(Json(json!({
        "status": "ready",
        "store": { "head_position": head },
        "projections": projections,
    })))
}
