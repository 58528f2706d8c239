use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::problem::Problem;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
}

/// The process is up and answering.
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The event store answers: the server can take work.
async fn ready(State(state): State<AppState>) -> Result<Json<Value>, Problem> {
    match state.store.head_position().await {
        Ok(head) => Ok(Json(
            json!({ "status": "ready", "store": { "head_position": head } }),
        )),
        Err(e) => Err(Problem::unavailable(format!(
            "event store unreachable: {e}"
        ))),
    }
}
