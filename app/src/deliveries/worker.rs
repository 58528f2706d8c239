//! The worker that makes deliveries: it looks at the deliveries due (the
//! in-memory queue follows the log), claims each by recording its attempt
//! (the stream's version makes that claim one server's), sends it, and
//! records how it went. An attempt that a stopped server left in flight is
//! recorded as interrupted and retried on schedule.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use agentledger_commands::{CommandError, Context};
use agentledger_domain::delivery::{Delivery, DeliveryCommand, Endpoint, FailedAttempt};
use agentledger_domain::task::Task;
use agentledger_domain::webhook::{Webhook, WebhookCommand};
use agentledger_store::secrets::signing_secret;
use agentledger_store::{EventFilter, RecordedEvent};
use chrono::Utc;
use rand::Rng;
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::DeliverySettings;
use super::send::{Answer, Sender};
use crate::app::App;
use crate::error::AppError;

/// Attempts in flight at once, from this server.
const CONCURRENT: usize = 16;
/// Due deliveries looked at per round.
const ROUND: usize = 256;
/// How long the worker waits for the queue to move before looking again:
/// retries fall due with time, not with events.
const LOOK_EVERY: Duration = Duration::from_millis(250);
const ACTOR: &str = "webhook-delivery";

pub(crate) fn spawn(app: App, settings: DeliverySettings) -> JoinHandle<()> {
    tokio::spawn(async move {
        let sender = match Sender::new(app.address_policy, settings.timeout) {
            Ok(sender) => Arc::new(sender),
            Err(e) => {
                tracing::error!(error = %e, "the webhook delivery client cannot be built; nothing will be delivered");
                return;
            }
        };
        let settings = Arc::new(settings);
        let busy: Arc<Mutex<HashSet<Uuid>>> = Arc::default();
        let slots = Arc::new(Semaphore::new(CONCURRENT));
        loop {
            for (id, delivery) in app.delivery_queue.due(Utc::now(), ROUND) {
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    break;
                };
                if !busy
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(id)
                {
                    continue;
                }
                let (app, sender, settings, busy) =
                    (app.clone(), sender.clone(), settings.clone(), busy.clone());
                tokio::spawn(async move {
                    attempt(&app, &sender, &settings, id, delivery).await;
                    busy.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&id);
                    drop(slot);
                });
            }
            let seen = app.delivery_queue_progress.position();
            if !app
                .delivery_queue_progress
                .wait_for(seen + 1, LOOK_EVERY)
                .await
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    })
}

async fn attempt(
    app: &App,
    sender: &Sender,
    settings: &DeliverySettings,
    id: Uuid,
    delivery: Delivery,
) {
    // The queue starts following a finished delivery again when it is sent
    // again, from that event on: the rest of its state is in its stream.
    let delivery = if delivery.exists {
        delivery
    } else {
        match app.handler.load::<Delivery>(id).await {
            Ok(loaded) => loaded.state,
            Err(e) => {
                tracing::warn!(delivery = %id, error = %e, "cannot load the delivery; retrying later");
                return;
            }
        }
    };
    let ctx = Context::system(delivery.tenant_id, ACTOR);
    let now = agentledger_store::now();
    let fail =
        |failure: FailedAttempt, retry_after: Option<u64>, gone: bool| DeliveryCommand::Fail {
            failure,
            retry_after,
            gone,
            schedule: settings.retry.clone(),
            jitter_permille: rand::rng().random_range(-100..=100),
            at: agentledger_store::now(),
        };
    if delivery.is_interrupted(now) {
        let lost = FailedAttempt {
            status_code: None,
            error: "the attempt was interrupted: the server making it stopped".into(),
            duration_ms: 0,
        };
        record(app, &ctx, id, fail(lost, None, false)).await;
        return;
    }
    let (url, secret) = match target(app, &delivery).await {
        Ok(Target::Send { url, secret }) => (url, secret),
        Ok(Target::Cancel(reason)) => {
            record(app, &ctx, id, DeliveryCommand::Cancel { reason }).await;
            return;
        }
        Err(e) => {
            tracing::warn!(delivery = %id, error = %e, "cannot read where the delivery goes; retrying later");
            return;
        }
    };
    // The claim: of several servers, the one whose attempt is recorded sends.
    match app
        .handler
        .run::<Delivery>(&ctx, id, DeliveryCommand::Attempt { at: now })
        .await
    {
        Ok(_) => {}
        Err(CommandError::Domain(_) | CommandError::Contention(_)) => return,
        Err(e) => {
            tracing::warn!(delivery = %id, error = %e, "cannot record the attempt; retrying later");
            return;
        }
    }
    let body = match event_of(app, &delivery).await {
        Some(event) => body(&event),
        None => {
            let missing = FailedAttempt {
                status_code: None,
                error: format!(
                    "the event at position {} is not in the log",
                    delivery.event_position
                ),
                duration_ms: 0,
            };
            record(app, &ctx, id, fail(missing, None, true)).await;
            return;
        }
    };
    match sender
        .send(&url, &id.to_string(), &secret, body, Utc::now())
        .await
    {
        Answer::Accepted {
            status_code,
            duration_ms,
        } => {
            record(
                app,
                &ctx,
                id,
                DeliveryCommand::Succeed {
                    status_code,
                    duration_ms,
                },
            )
            .await;
        }
        Answer::Refused {
            failure,
            retry_after,
            gone,
        } => {
            record(app, &ctx, id, fail(failure, retry_after, gone)).await;
            if let (true, Endpoint::Webhook(webhook_id)) = (gone, delivery.endpoint) {
                let disable = WebhookCommand::Disable {
                    reason: "the receiver answered 410 Gone".into(),
                    by: None,
                };
                if let Err(e) = app.handler.run::<Webhook>(&ctx, webhook_id, disable).await {
                    tracing::warn!(webhook = %webhook_id, error = %e, "cannot disable the subscription");
                }
            }
        }
    }
}

/// Where a delivery goes now, or why it goes nowhere.
enum Target {
    Send { url: String, secret: String },
    Cancel(String),
}

async fn target(app: &App, delivery: &Delivery) -> Result<Target, AppError> {
    match delivery.endpoint {
        Endpoint::Webhook(webhook_id) => {
            let webhook = app.handler.load::<Webhook>(webhook_id).await?.state;
            if !webhook.exists || webhook.deleted {
                return Ok(Target::Cancel("the subscription was deleted".into()));
            }
            if let Some(reason) = &webhook.disabled {
                return Ok(Target::Cancel(format!(
                    "the subscription is disabled: {reason}"
                )));
            }
            Ok(match signing_secret(&app.database, webhook_id).await? {
                Some(secret) => Target::Send {
                    url: webhook.url,
                    secret,
                },
                None => Target::Cancel(
                    "the subscription has no signing secret (it was made before deliveries were signed); subscribe again"
                        .into(),
                ),
            })
        }
        Endpoint::Callback(task_id) => {
            let task = app.handler.load::<Task>(task_id).await?.state;
            let Some(url) = task.callback_url else {
                return Ok(Target::Cancel("the task has no callback_url".into()));
            };
            let secret = crate::tasks::callback_secret(app, delivery.tenant_id).await?;
            Ok(Target::Send { url, secret })
        }
    }
}

/// The delivered event, read back from the log.
async fn event_of(app: &App, delivery: &Delivery) -> Option<RecordedEvent> {
    let found = app
        .store
        .read_all(delivery.event_position, 1, &EventFilter::default())
        .await
        .ok()?;
    found
        .into_iter()
        .next()
        .filter(|e| e.event_id == delivery.event_id)
}

/// What the receiver gets: the Standard Webhooks shape, with the event as
/// the audit routes show it in `data`.
pub(crate) fn body(event: &RecordedEvent) -> Vec<u8> {
    let body = json!({
        "type": event.event_type,
        "timestamp": event.occurred_at,
        "data": event,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Records an outcome until it is recorded: lost, the delivery would stay in
/// flight until its lease ends and be sent again.
async fn record(app: &App, ctx: &Context, id: Uuid, command: DeliveryCommand) {
    let mut pause = Duration::from_millis(100);
    loop {
        match app.handler.run::<Delivery>(ctx, id, command.clone()).await {
            Ok(_) => return,
            Err(CommandError::Domain(e)) => {
                tracing::warn!(delivery = %id, error = %e, "delivery outcome refused");
                return;
            }
            Err(e) => {
                tracing::warn!(delivery = %id, error = %e, "cannot record a delivery outcome; retrying in {pause:?}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        }
    }
}
