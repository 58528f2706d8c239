//! Webhook deliveries: each subscription's, with status codes and timings;
//! one delivery's attempts; sending one again, replaying a time range, a test ping, and stopping
//! and restarting a subscription's deliveries.

use agentledger_app::caller::{Caller, Operator};
use agentledger_app::deliveries;
use agentledger_app::queries::Page;
use agentledger_domain::ids::TaskId;
use agentledger_projections::webhook_deliveries::DeliveryRow;
use agentledger_store::RecordedEvent;
use axum::Json as Reply;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::extract::{Json, Path, Query};
use crate::problem::Problem;
use crate::read_model::list_query;
use crate::routes::operators::Done;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(delivery_list))
        .routes(routes!(delivery_attempts))
        .routes(routes!(redeliver))
        .routes(routes!(ping))
        .routes(routes!(replay))
        .routes(routes!(disable))
        .routes(routes!(enable))
        .routes(routes!(task_callbacks))
        .routes(routes!(callback_secret))
}

list_query! {
    pub struct CallbackQuery {}
}

/// The deliveries of the task's ending to its `callback_url`, newest first
/// (a retried task's callbacks are the retry's own).
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{task_id}/callbacks",
    operation_id = "task_callbacks",
    tag = "tasks",
    summary = "A task's callbacks",
    params(("task_id" = uuid::Uuid, Path), CallbackQuery),
    responses((status = 200, description = "A page of deliveries", body = DeliveryPage), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn task_callbacks(
    State(state): State<AppState>,
    caller: Caller,
    Path(task_id): Path<TaskId>,
    Query(q): Query<CallbackQuery>,
) -> Result<Reply<DeliveryPage>, Problem> {
    Ok(Reply(
        deliveries::callbacks(&state, &caller, task_id, q.list()).await?,
    ))
}

#[derive(Debug, utoipa::ToSchema, Serialize)]
pub struct CallbackSecret {
    /// `whsec_…`: task callbacks of this tenant are signed with it, as
    /// webhook deliveries are with their subscription's.
    pub secret: String,
}

/// The secret the tenant's task callbacks are signed with (made on first
/// use), for operators who may run commands.
#[utoipa::path(
    get,
    path = "/api/v1/callbacks/secret",
    operation_id = "callback_secret",
    tag = "tasks",
    summary = "The signing secret of task callbacks",
    responses((status = 200, description = "The secret", body = CallbackSecret), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn callback_secret(
    State(state): State<AppState>,
    operator: Operator,
) -> Result<Reply<CallbackSecret>, Problem> {
    let secret = agentledger_app::tasks::callback_secret_for(&state, &operator).await?;
    Ok(Reply(CallbackSecret { secret }))
}

list_query! {
    pub struct DeliveryQuery {
        /// `pending`, `in_flight`, `succeeded`, `exhausted` or `cancelled`.
        pub status: Option<String>,
    }
}

/// A page of deliveries, as the document names it.
type DeliveryPage = Page<DeliveryRow>;

/// The subscription's deliveries, newest first: status, attempts, the last
/// status code, error and duration, and when the next attempt is due.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{webhook_id}/deliveries",
    operation_id = "webhook_deliveries",
    tag = "webhooks",
    summary = "A webhook's deliveries, newest first",
    params(("webhook_id" = uuid::Uuid, Path), DeliveryQuery),
    responses((status = 200, description = "A page of deliveries", body = DeliveryPage), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn delivery_list(
    State(state): State<AppState>,
    caller: Caller,
    Path(webhook_id): Path<Uuid>,
    Query(q): Query<DeliveryQuery>,
) -> Result<Reply<DeliveryPage>, Problem> {
    let list = q.list();
    Ok(Reply(
        deliveries::list(&state, &caller, webhook_id, q.status.as_deref(), list).await?,
    ))
}

/// One delivery's stream: its scheduling, each attempt (recorded before it
/// was made) and each outcome.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}",
    operation_id = "webhook_delivery_attempts",
    tag = "webhooks",
    summary = "A delivery and its attempts",
    params(("webhook_id" = uuid::Uuid, Path), ("delivery_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The delivery's events, oldest first", body = Vec<RecordedEvent>), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn delivery_attempts(
    State(state): State<AppState>,
    caller: Caller,
    Path((webhook_id, delivery_id)): Path<(Uuid, Uuid)>,
) -> Result<Reply<Vec<RecordedEvent>>, Problem> {
    Ok(Reply(
        deliveries::attempts(&state, &caller, webhook_id, delivery_id).await?,
    ))
}

/// Sends the delivery again under the same `webhook-id`, with a new round
/// of attempts (refused while an attempt is in flight).
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    operation_id = "webhook_redeliver",
    tag = "webhooks",
    summary = "Send a delivery again",
    params(("webhook_id" = uuid::Uuid, Path), ("delivery_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "Scheduled", body = Done), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn redeliver(
    State(state): State<AppState>,
    caller: Caller,
    Path((webhook_id, delivery_id)): Path<(Uuid, Uuid)>,
) -> Result<Reply<Done>, Problem> {
    let position = deliveries::redeliver(&state, &caller, webhook_id, delivery_id).await?;
    Ok(Reply(Done { position }))
}

/// Records a `WebhookPinged` event, delivered to this subscription alone
/// whatever it subscribed to: a test of the receiver and its verification.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{webhook_id}/ping",
    operation_id = "webhook_ping",
    tag = "webhooks",
    summary = "Send a test delivery",
    params(("webhook_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The ping's position", body = Done), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn ping(
    State(state): State<AppState>,
    caller: Caller,
    Path(webhook_id): Path<Uuid>,
) -> Result<Reply<Done>, Problem> {
    let position = deliveries::ping(&state, &caller, webhook_id).await?;
    Ok(Reply(Done { position }))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayRange {
    /// The first instant whose events are sent again (RFC 3339).
    pub from: DateTime<Utc>,
    /// The last instant whose events are sent again (RFC 3339), included.
    pub to: DateTime<Utc>,
}

/// Sends again the events recorded from `from` to `to` (both included) that
/// the subscription asks for now, in log order: an event delivered before
/// under the id of its first delivery (a receiver deduplicating on
/// `webhook-id` sees it once), one it never got (recorded before it was
/// made, or while it was disabled) as a new delivery. Deliveries still on
/// their way are left as they are. The subscription must be enabled.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{webhook_id}/replay",
    operation_id = "webhook_replay",
    tag = "webhooks",
    summary = "Send a time range's events again",
    params(("webhook_id" = uuid::Uuid, Path)),
    request_body = ReplayRange,
    responses((status = 200, description = "The request's position; deliveries follow", body = Done), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Path(webhook_id): Path<Uuid>,
    Json(range): Json<ReplayRange>,
) -> Result<Reply<Done>, Problem> {
    let position = deliveries::replay(&state, &caller, webhook_id, range.from, range.to).await?;
    Ok(Reply(Done { position }))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisableWebhook {
    /// Why, for whoever looks at the subscription later.
    pub reason: String,
}

/// Stops deliveries: events from now on are not delivered and waiting
/// deliveries are cancelled. A receiver answering 410 Gone does the same.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{webhook_id}/disable",
    operation_id = "webhook_disable",
    tag = "webhooks",
    summary = "Stop a webhook's deliveries",
    params(("webhook_id" = uuid::Uuid, Path)),
    request_body = DisableWebhook,
    responses((status = 200, description = "Disabled", body = Done), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    Path(webhook_id): Path<Uuid>,
    Json(body): Json<DisableWebhook>,
) -> Result<Reply<Done>, Problem> {
    let position = deliveries::disable(&state, &caller, webhook_id, body.reason).await?;
    Ok(Reply(Done { position }))
}

/// Starts deliveries again, for events that commit from now on.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{webhook_id}/enable",
    operation_id = "webhook_enable",
    tag = "webhooks",
    summary = "Restart a webhook's deliveries",
    params(("webhook_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "Enabled", body = Done), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn enable(
    State(state): State<AppState>,
    caller: Caller,
    Path(webhook_id): Path<Uuid>,
) -> Result<Reply<Done>, Problem> {
    let position = deliveries::enable(&state, &caller, webhook_id).await?;
    Ok(Reply(Done { position }))
}
