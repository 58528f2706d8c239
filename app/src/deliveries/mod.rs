//! Webhook delivery: a reactor schedules a delivery for each event a
//! subscription asks for ([`schedule`]), a worker makes them ([`worker`],
//! over HTTP with [`send`]), and every step is an event of the delivery's
//! stream (`domain::delivery`), so deliveries are audited and survive
//! restarts. What operators and agents do with them is here: list a
//! subscription's deliveries, send one again, replay a time range, ping,
//! disable and enable.

pub mod schedule;
mod send;
mod worker;

use std::time::Duration;

use chrono::{DateTime, Utc};

use agentledger_domain::delivery::{Delivery, DeliveryCommand, Endpoint, RetrySchedule};
use agentledger_domain::ids::{TaskId, TenantId};
use agentledger_domain::task::Task;
use agentledger_domain::webhook::{Webhook, WebhookCommand};
use agentledger_projections::webhook_deliveries::{self as model, DeliveryRow, WebhookDeliveries};
use uuid::Uuid;

use crate::app::App;
use crate::caller::Caller;
use crate::error::AppError;
use crate::queries::{ListParams, Page};
use crate::webhooks::{decide, manager};

pub(crate) use worker::spawn as spawn_worker;

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// The waits before each attempt of a round.
    pub retry: RetrySchedule,
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// A subscription whose deliveries have failed this long, none
    /// succeeding, is disabled (and an alert raised).
    pub disable_after: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            retry: RetrySchedule::default(),
            timeout: Duration::from_secs(15),
            disable_after: Duration::from_secs(5 * 24 * 3600),
        }
    }
}

/// A subscription's deliveries, newest first; of one status (`pending`,
/// `in_flight`, `succeeded`, `exhausted`, `cancelled`) or all.
pub async fn list(
    app: &App,
    caller: &Caller,
    webhook_id: Uuid,
    status: Option<&str>,
    list: ListParams,
) -> Result<Page<DeliveryRow>, AppError> {
    let webhook = app.load_visible::<Webhook>(caller, webhook_id).await?.state;
    page(
        app,
        webhook.tenant_id,
        Endpoint::Webhook(webhook_id),
        status,
        list,
    )
    .await
}

/// The callbacks of a task the caller may see, newest first.
pub async fn callbacks(
    app: &App,
    caller: &Caller,
    task_id: TaskId,
    list: ListParams,
) -> Result<Page<DeliveryRow>, AppError> {
    let task = app.load_visible::<Task>(caller, task_id).await?.state;
    page(app, task.tenant_id, Endpoint::Callback(task_id), None, list).await
}

async fn page(
    app: &App,
    tenant: TenantId,
    endpoint: Endpoint,
    status: Option<&str>,
    list: ListParams,
) -> Result<Page<DeliveryRow>, AppError> {
    let limit = list.page_size()?;
    let progress = app.caught_up(&WebhookDeliveries, list.min_position).await?;
    let items = model::list(&app.database, tenant, endpoint, status, list.cursor, limit).await?;
    Ok(Page::new(items, limit, progress.position(), |d| d.seq))
}

/// A delivery of the subscription: its whole stream (scheduling, every
/// attempt and its outcome).
pub async fn attempts(
    app: &App,
    caller: &Caller,
    webhook_id: Uuid,
    delivery_id: Uuid,
) -> Result<Vec<agentledger_store::RecordedEvent>, AppError> {
    of_webhook(app, caller, webhook_id, delivery_id).await?;
    app.whole_stream::<Delivery>(delivery_id).await
}

/// The delivery, if it is one of a subscription the caller may see.
async fn of_webhook(
    app: &App,
    caller: &Caller,
    webhook_id: Uuid,
    delivery_id: Uuid,
) -> Result<Delivery, AppError> {
    app.load_visible::<Webhook>(caller, webhook_id).await?;
    let delivery = app.handler.load::<Delivery>(delivery_id).await?.state;
    if delivery.exists && delivery.endpoint == Endpoint::Webhook(webhook_id) {
        Ok(delivery)
    } else {
        Err(AppError::NotFound("delivery not found".into()))
    }
}

/// Sends a delivery again, under the same id, with a new round of
/// attempts; the position of the request.
pub async fn redeliver(
    app: &App,
    caller: &Caller,
    webhook_id: Uuid,
    delivery_id: Uuid,
) -> Result<u64, AppError> {
    let (ctx, _) = manager(caller)?;
    of_webhook(app, caller, webhook_id, delivery_id).await?;
    let command = DeliveryCommand::Redeliver {
        at: agentledger_store::now(),
    };
    Ok(app
        .handler
        .run::<Delivery>(&ctx, delivery_id, command)
        .await?
        .position)
}

/// Asks for a test delivery (`WebhookPinged`) to this subscription alone.
pub async fn ping(app: &App, caller: &Caller, webhook_id: Uuid) -> Result<u64, AppError> {
    decide(app, caller, webhook_id, |by| WebhookCommand::Ping { by }).await
}

/// Asks for the events recorded from `from` to `to` that the subscription
/// asks for to be delivered to it again (`WebhookReplayRequested`): each
/// under its first delivery's id, or a new one for an event it never got.
pub async fn replay(
    app: &App,
    caller: &Caller,
    webhook_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<u64, AppError> {
    decide(app, caller, webhook_id, |by| WebhookCommand::Replay {
        from,
        to,
        by,
    })
    .await
}

/// Stops deliveries to the subscription (waiting ones are cancelled when due).
pub async fn disable(
    app: &App,
    caller: &Caller,
    webhook_id: Uuid,
    reason: String,
) -> Result<u64, AppError> {
    decide(app, caller, webhook_id, |by| WebhookCommand::Disable {
        reason,
        by: Some(by),
    })
    .await
}

/// Starts deliveries again, for events from now on.
pub async fn enable(app: &App, caller: &Caller, webhook_id: Uuid) -> Result<u64, AppError> {
    decide(app, caller, webhook_id, |by| WebhookCommand::Enable { by }).await
}
