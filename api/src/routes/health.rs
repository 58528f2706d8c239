use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
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
    summary = "Readiness: the store is reachable and no read model is stuck",
    responses((status = 200, description = "The event store answers and every read model applies the log", body = Object), crate::openapi::Problems),
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
            let mut model =
                json!({ "name": name, "position": position, "lag": head.saturating_sub(position) });
            if let Some(stall) = progress.stall() {
                model["stalled"] = json!({ "after": stall.after, "error": stall.error });
            }
            model
        })
        .collect();
    // A model that stopped at an event it cannot apply serves stale data for
    // every tenant until it is repaired: the server is not ready.
    let stalled: Vec<&str> = state
        .models()
        .into_iter()
        .filter(|(_, progress)| progress.stall().is_some())
        .map(|(name, _)| name)
        .collect();
    if !stalled.is_empty() {
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "read-model-stalled",
            "A read model stopped",
        )
        .detail(format!(
            "{} cannot apply the log past an event; see `projections` and the server's log",
            stalled.join(", ")
        ))
        .with("store", json!({ "head_position": head }))
        .with("projections", projections));
    }
    Ok(Json(json!({
        "status": "ready",
        "store": { "head_position": head },
        "projections": projections,
    })))
}
