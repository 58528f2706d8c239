//! Alerts (operators acknowledge or ignore them), budgets and batch runs.

use agentledger_app::budgets;
use agentledger_domain::alert::{AlertCommand, AlertStatus};
use agentledger_domain::budget::{BudgetCommand, LimitChanges, Limits};
use agentledger_domain::ids::{TaskId, TenantId};
use agentledger_projections::wire::dollars;
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
        .routes(routes!(budget, set_budget, change_budget))
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

#[utoipa::path(
    get,
    path = "/api/v1/budget",
    tag = "budgets",
    summary = "The tenant's budget",
    responses((status = 200, description = "The tenant's budget", body = BudgetLimits), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn budget(
    State(state): State<AppState>,
    operator: Operator,
) -> Result<Reply<BudgetLimits>, Problem> {
    let limits = budgets::limits(&state, &operator).await?;
    Ok(Reply(BudgetLimits::from(limits)))
}

/// A tenant's limits, in the form they are set and read.
#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetLimits {
    /// Leave a limit out for none.
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    pub daily_tokens: Option<u64>,
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    pub monthly_tokens: Option<u64>,
    /// US dollars, 0 to 1e9; stored as micro-dollars.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub daily_cost_usd: Option<f64>,
    /// US dollars, 0 to 1e9.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub monthly_cost_usd: Option<f64>,
}

impl From<Limits> for BudgetLimits {
    fn from(limits: Limits) -> Self {
        BudgetLimits {
            daily_tokens: limits.daily_tokens,
            monthly_tokens: limits.monthly_tokens,
            daily_cost_usd: limits.daily_cost_micros.map(dollars),
            monthly_cost_usd: limits.monthly_cost_micros.map(dollars),
        }
    }
}

fn micros(usd: Option<f64>) -> Result<Option<i64>, Problem> {
    match usd {
        Some(v) if !v.is_finite() || !(0.0..=1e9).contains(&v) => {
            Err(Problem::bad_request("cost limits are 0 to 1e9 dollars"))
        }
        other => Ok(other.map(|v| (v * 1e6).round() as i64)),
    }
}

/// Replaces the budget wholly: a limit left out is no limit (`PATCH`
/// changes only the limits sent).
#[utoipa::path(
    put,
    path = "/api/v1/budget",
    tag = "budgets",
    summary = "Set the tenant's budget",
    request_body = BudgetLimits,
    responses((status = 200, description = "Set", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn set_budget(
    State(state): State<AppState>,
    operator: Operator,
    Json(body): Json<BudgetLimits>,
) -> Result<Reply<Done>, Problem> {
    let limits = Limits {
        daily_tokens: body.daily_tokens,
        monthly_tokens: body.monthly_tokens,
        daily_cost_micros: micros(body.daily_cost_usd)?,
        monthly_cost_micros: micros(body.monthly_cost_usd)?,
    };
    let command = BudgetCommand::Set(limits);
    let position = budgets::set_limits(&state, &operator, command).await?;
    Ok(Reply(Done { position }))
}

/// A present field, `null` included, as `Some`: told apart from one left out.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Changes to a tenant's limits, as a JSON merge patch (RFC 7396): a limit
/// sent is set, one sent as `null` is removed, one left out is kept.
#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetChanges {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    pub daily_tokens: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    pub monthly_tokens: Option<Option<u64>>,
    /// US dollars, 0 to 1e9.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 1_000_000_000)]
    pub daily_cost_usd: Option<Option<f64>>,
    /// US dollars, 0 to 1e9.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 1_000_000_000)]
    pub monthly_cost_usd: Option<Option<f64>>,
}

/// Changes the limits sent and keeps the others; decided on the budget as it
/// stands, so two changes at once both count.
#[utoipa::path(
    patch,
    path = "/api/v1/budget",
    tag = "budgets",
    summary = "Change some of the tenant's limits",
    request_body = BudgetChanges,
    responses((status = 200, description = "Changed", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn change_budget(
    State(state): State<AppState>,
    operator: Operator,
    Json(body): Json<BudgetChanges>,
) -> Result<Reply<Done>, Problem> {
    let cost = |change: Option<Option<f64>>| change.map(micros).transpose();
    let changes = LimitChanges {
        daily_tokens: body.daily_tokens,
        monthly_tokens: body.monthly_tokens,
        daily_cost_micros: cost(body.daily_cost_usd)?,
        monthly_cost_micros: cost(body.monthly_cost_usd)?,
    };
    let command = BudgetCommand::Change(changes);
    let position = budgets::set_limits(&state, &operator, command).await?;
    Ok(Reply(Done { position }))
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
