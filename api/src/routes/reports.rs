//! What agents report: actions (one or a batch) and LLM runs.

use agentledger_app::reports;
use agentledger_domain::reports::{ActionReport, RunReport};
use axum::Json as Reply;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::extract::Json;
use crate::problem::Problem;
use crate::state::AppState;
use agentledger_app::caller::AgentCaller;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(action))
        .routes(routes!(batch))
        .routes(routes!(llm_run))
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct Recorded {
    pub event_id: uuid::Uuid,
    pub position: u64,
}

#[utoipa::path(
    post,
    path = "/api/v1/agents/me/actions",
    operation_id = "record_action",
    tag = "reports",
    summary = "Record an action",
    request_body = ActionReport,
    responses((status = 201, description = "Recorded", body = Recorded), crate::openapi::Problems),
    security(("agent_token" = [])),
)]
async fn action(
    State(state): State<AppState>,
    caller: AgentCaller,
    Json(body): Json<ActionReport>,
) -> Result<(StatusCode, Reply<Recorded>), Problem> {
    let first = reports::action(&state, &caller, body).await?;
    Ok((
        StatusCode::CREATED,
        Reply(Recorded {
            event_id: first.event_id,
            position: first.position,
        }),
    ))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub actions: Vec<ActionReport>,
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct BatchRecorded {
    pub position: u64,
    pub results: Vec<BatchItem>,
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct BatchItem {
    pub index: usize,
    pub status: String,
    pub event_id: uuid::Uuid,
    pub position: u64,
}

/// Up to 1000 actions appended atomically: all are recorded, or none.
#[utoipa::path(
    post,
    path = "/api/v1/agents/me/actions/batch",
    operation_id = "record_actions",
    tag = "reports",
    summary = "Record up to 1000 actions atomically",
    request_body = Batch,
    responses((status = 201, description = "All recorded, in one atomic append", body = BatchRecorded), crate::openapi::Problems),
    security(("agent_token" = [])),
)]
async fn batch(
    State(state): State<AppState>,
    caller: AgentCaller,
    Json(body): Json<Batch>,
) -> Result<(StatusCode, Reply<BatchRecorded>), Problem> {
    let committed = reports::actions(&state, &caller, body.actions).await?;
    let results = committed
        .iter()
        .enumerate()
        .map(|(index, c)| BatchItem {
            index,
            status: "recorded".into(),
            event_id: c.event_id,
            position: c.position,
        })
        .collect();
    let position = committed.last().map_or(0, |c| c.position);
    Ok((
        StatusCode::CREATED,
        Reply(BatchRecorded { position, results }),
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/agents/me/runs",
    operation_id = "record_run",
    tag = "reports",
    summary = "Record an LLM run",
    request_body = RunReport,
    responses((status = 201, description = "Recorded", body = Recorded), crate::openapi::Problems),
    security(("agent_token" = [])),
)]
async fn llm_run(
    State(state): State<AppState>,
    caller: AgentCaller,
    Json(body): Json<RunReport>,
) -> Result<(StatusCode, Reply<Recorded>), Problem> {
    let first = reports::run(&state, &caller, body).await?;
    Ok((
        StatusCode::CREATED,
        Reply(Recorded {
            event_id: first.event_id,
            position: first.position,
        }),
    ))
}
