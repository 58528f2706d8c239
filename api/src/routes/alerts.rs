//! Alerts (operators acknowledge or ignore them) and batch runs estimated
//! against budgets.

use agentledger_app::budgets;
use agentledger_domain::alert::{AlertCommand, AlertStatus};
use agentledger_domain::ids::{TaskId, TenantId};
use axum::Json as Reply;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::extract::{Json, Path};
use crate::problem::Problem;
use crate::routes::operators::Done;
use crate::state::AppState;
use agentledger_app::caller::Operator;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(alert_detail))
        .routes(routes!(acknowledge))
        .routes(routes!(ignore))
        .routes(routes!(estimate))
        .routes(routes!(confirm))
}

#[derive(Debug, utoipa::ToSchema, Serialize)]
pub struct AlertView {
    pub alert_id: Uuid,
    pub tenant_id: TenantId,
    pub status: AlertStatus,
    pub events: Vec<agentledger_store::RecordedEvent>,
}

#[utoipa::path(
    get,
    path = "/api/v1/alerts/{alert_id}",
    tag = "alerts",
    summary = "An alert with its history",
    params(("alert_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The alert with its history", body = AlertView), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn alert_detail(
    State(state): State<AppState>,
    operator: Operator,
    Path(alert_id): Path<Uuid>,
) -> Result<Reply<AlertView>, Problem> {
    let (alert, events) = budgets::alert(&state, &operator, alert_id).await?;
    Ok(Reply(AlertView {
        alert_id,
        tenant_id: alert.tenant_id,
        status: alert.status,
        events,
    }))
}

#[derive(Debug, utoipa::ToSchema, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    pub note: Option<String>,
}

async fn handle(
    state: &AppState,
    operator: &Operator,
    alert_id: Uuid,
    command: AlertCommand,
) -> Result<Reply<Done>, Problem> {
    let position = budgets::handle_alert(state, operator, alert_id, command).await?;
    Ok(Reply(Done { position }))
}

#[utoipa::path(
    post,
    path = "/api/v1/alerts/{alert_id}/acknowledge",
    operation_id = "acknowledge_alert",
    tag = "alerts",
    summary = "Acknowledge an alert",
    params(("alert_id" = uuid::Uuid, Path)),
    request_body(content = Option<Note>, description = "Optional"),
    responses((status = 200, description = "Acknowledged", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn acknowledge(
    State(state): State<AppState>,
    operator: Operator,
    Path(alert_id): Path<Uuid>,
    body: Option<Json<Note>>,
) -> Result<Reply<Done>, Problem> {
    let note = body.and_then(|Json(b)| b.note);
    handle(
        &state,
        &operator,
        alert_id,
        AlertCommand::Acknowledge { note },
    )
    .await
}

#[utoipa::path(
    post,
    path = "/api/v1/alerts/{alert_id}/ignore",
    operation_id = "ignore_alert",
    tag = "alerts",
    summary = "Ignore an alert",
    params(("alert_id" = uuid::Uuid, Path)),
    request_body(content = Option<Note>, description = "Optional"),
    responses((status = 200, description = "Ignored", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn ignore(
    State(state): State<AppState>,
    operator: Operator,
    Path(alert_id): Path<Uuid>,
    body: Option<Json<Note>>,
) -> Result<Reply<Done>, Problem> {
    let note = body.and_then(|Json(b)| b.note);
    handle(&state, &operator, alert_id, AlertCommand::Ignore { note }).await
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstimateBody {
    pub app_types: Vec<String>,
    pub member_ids: Vec<String>,
    /// 1500 when absent; at most what one run may report.
    #[schema(maximum = 100_000_000)]
    pub avg_tokens_per_call: Option<u64>,
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct Estimate {
    pub batch_id: Uuid,
    pub estimated_calls: u64,
    pub estimated_tokens: u64,
    pub expires_at: DateTime<Utc>,
    pub position: u64,
}

#[utoipa::path(
    post,
    path = "/api/v1/batches/estimate",
    operation_id = "estimate_batch",
    tag = "budgets",
    summary = "Estimate a batch run",
    request_body = EstimateBody,
    responses((status = 201, description = "The estimate, to be confirmed", body = Estimate), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn estimate(
    State(state): State<AppState>,
    operator: Operator,
    Json(body): Json<EstimateBody>,
) -> Result<(StatusCode, Reply<Estimate>), Problem> {
    let estimated = budgets::estimate(
        &state,
        &operator,
        body.app_types,
        body.member_ids,
        body.avg_tokens_per_call,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Reply(Estimate {
            batch_id: estimated.batch_id,
            estimated_calls: estimated.calls,
            estimated_tokens: estimated.tokens,
            expires_at: estimated.expires_at,
            position: estimated.position,
        }),
    ))
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct Confirmed {
    pub batch_id: Uuid,
    pub task_ids: Vec<TaskId>,
    pub position: u64,
}

#[utoipa::path(
    post,
    path = "/api/v1/batches/{batch_id}/confirm",
    operation_id = "confirm_batch",
    tag = "budgets",
    summary = "Confirm a batch: one task per pair",
    params(("batch_id" = uuid::Uuid, Path)),
    responses((status = 201, description = "The tasks created", body = Confirmed), (status = 410, description = "The estimate expired", body = Problem, content_type = "application/problem+json"), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn confirm(
    State(state): State<AppState>,
    operator: Operator,
    Path(batch_id): Path<Uuid>,
) -> Result<(StatusCode, Reply<Confirmed>), Problem> {
    let (task_ids, position) = budgets::confirm(&state, &operator, batch_id).await?;
    Ok((
        StatusCode::CREATED,
        Reply(Confirmed {
            batch_id,
            task_ids,
            position,
        }),
    ))
}
