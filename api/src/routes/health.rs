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
    let readiness = state.readiness().await?;
    let head = readiness.head_position;
    // How far each model has applied the log: `lag` events behind the head.
    let projections: Vec<Value> = readiness
        .models
        .iter()
        .map(|m| {
            let mut model = json!({ "name": m.name, "position": m.position, "lag": m.lag });
            if let Some(stall) = &m.stall {
                model["stalled"] = json!({ "after": stall.after, "error": stall.error });
            }
            model
        })
        .collect();
    if !readiness.is_ready() {
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "read-model-stalled",
            "A read model stopped",
        )
        .detail(format!(
            "{} cannot apply the log past an event; see `projections` and the server's log",
            readiness.stalled().join(", ")
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
