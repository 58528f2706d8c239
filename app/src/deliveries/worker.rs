//! The worker that makes deliveries: it looks at the deliveries due (the
//! in-memory queue follows the log), claims each by recording its attempt
//! (the stream's version makes that claim one server's), sends it, and
//! records how it went. An attempt that a stopped server left in flight is
//! recorded as interrupted and retried on schedule.

use std::collections::{HashSet, VecDeque};
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
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::DeliverySettings;
use super::send::{Answer, Sender};
use crate::app::App;
use crate::error::AppError;
use crate::reactors::retrying;

/// Attempts in flight at once, from this server.
const CONCURRENT: usize = 16;
/// Due deliveries looked at per round.
const ROUND: usize = 256;
/// How long the worker waits for the queue to move before looking again:
/// retries fall due with time, not with events.
const LOOK_EVERY: Duration = Duration::from_millis(250);
/// The shortest time between two looks.
const LOOK_AT_MOST: Duration = Duration::from_millis(50);
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
        // Until the queue has the log as it is now, an attempt another
        // server finished long ago would look in flight, and one it makes
        // now would look lost.
        while !caught_up(&app).await {
            tokio::time::sleep(LOOK_EVERY).await;
        }
        let settings = Arc::new(settings);
        let busy: Arc<Mutex<HashSet<Uuid>>> = Arc::default();
        let slots = Arc::new(Semaphore::new(CONCURRENT));
        let freed = Arc::new(Notify::new());
        // Due deliveries taken from the queue, handed to slots as they free:
        // a look at the queue sorts every open delivery, so it is made once
        // for many attempts, not once per attempt.
        let mut waiting: VecDeque<(Uuid, Delivery)> = VecDeque::new();
        let mut looked = tokio::time::Instant::now();
        loop {
            if waiting.is_empty() || looked.elapsed() >= LOOK_EVERY {
                waiting = app.delivery_queue.due(Utc::now(), ROUND).into();
                looked = tokio::time::Instant::now();
            }
            while let Some((id, _)) = waiting.front() {
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    break;
                };
                let id = *id;
                let Some((_, delivery)) = waiting.pop_front() else {
                    break;
                };
                if !busy
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(id)
                {
                    continue;
                }
                let (app, sender, settings, busy, freed) = (
                    app.clone(),
                    sender.clone(),
                    settings.clone(),
                    busy.clone(),
                    freed.clone(),
                );
                tokio::spawn(async move {
                    attempt(&app, &sender, &settings, id, delivery).await;
                    busy.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&id);
                    drop(slot);
                    freed.notify_one();
                });
            }
            if waiting.is_empty() {
                // The queue moves with every event of the log: look again
                // when it moved, but not more often than every
                // `LOOK_AT_MOST`, so a busy log costs a few looks a second,
                // not one per event.
                let seen = app.delivery_queue_progress.position();
                tokio::time::sleep(LOOK_AT_MOST).await;
                app.delivery_queue_progress
                    .wait_for(seen + 1, LOOK_EVERY)
                    .await;
            } else {
                // Every slot is taken: the next goes when one frees.
                let _ = tokio::time::timeout(LOOK_EVERY, freed.notified()).await;
            }
        }
    })
}

/// Whether the queue has applied the log up to its head.
async fn caught_up(app: &App) -> bool {
    match app.store.head_position().await {
        Ok(head) => app.delivery_queue_progress.position() >= head,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the head of the log");
            false
        }
    }
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
    let fail = |attempt: u32,
                interrupted: bool,
                failure: FailedAttempt,
                retry_after: Option<u64>,
                gone: bool| {
        DeliveryCommand::Fail {
            attempt,
            interrupted,
            failure,
            retry_after,
            gone,
            schedule: settings.retry.clone(),
            jitter_permille: rand::rng().random_range(-100..=100),
            at: agentledger_store::now(),
        }
    };
    if delivery.is_interrupted(agentledger_store::now()) {
        let lost = FailedAttempt {
            status_code: None,
            error: "the attempt was interrupted: the server making it stopped".into(),
            duration_ms: 0,
        };
        record(
            app,
            &delivery,
            id,
            fail(delivery.attempts, true, lost, None, false),
        )
        .await;
        return;
    }
    let (url, secret) = match target(app, &delivery).await {
        Ok(Target::Send { url, secret }) => (url, secret),
        Ok(Target::Cancel(reason)) => {
            record(app, &delivery, id, DeliveryCommand::Cancel { reason }).await;
            return;
        }
        Err(e) => {
            tracing::warn!(delivery = %id, error = %e, "cannot read where the delivery goes; retrying later");
            return;
        }
    };
    // Read before the claim: a store that fails now leaves the delivery
    // waiting, not failed.
    let body = match event_of(app, &delivery).await {
        Ok(Some(event)) => body(&event),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(delivery = %id, error = %e, "cannot read the event; retrying later");
            return;
        }
    };
    // The claim: of several servers, the one whose attempt is recorded sends.
    let ctx = Context::system(delivery.tenant_id, ACTOR);
    // The attempt's number is the stream's, not the queue's (which may be
    // a moment behind).
    let attempt = match app
        .handler
        .run::<Delivery>(&ctx, id, DeliveryCommand::Attempt { at: ctx.at })
        .await
    {
        Ok(claimed) => claimed.state.attempts,
        Err(CommandError::Domain(_) | CommandError::Contention(_)) => return,
        Err(e) => {
            tracing::warn!(delivery = %id, error = %e, "cannot record the attempt; retrying later");
            return;
        }
    };
    let Some(body) = body else {
        let missing = FailedAttempt {
            status_code: None,
            error: format!(
                "the event at position {} is not in the log",
                delivery.event_position
            ),
            duration_ms: 0,
        };
        record(
            app,
            &delivery,
            id,
            fail(attempt, false, missing, None, false),
        )
        .await;
        return;
    };
    match sender
        .send(&url, &id.to_string(), &secret, body, Utc::now())
        .await
    {
        Answer::Accepted {
            status_code,
            duration_ms,
        } => {
            let succeed = DeliveryCommand::Succeed {
                attempt,
                status_code,
                duration_ms,
            };
            record(app, &delivery, id, succeed).await;
        }
        Answer::Refused {
            failure,
            retry_after,
            gone,
        } => {
            record(
                app,
                &delivery,
                id,
                fail(attempt, false, failure, retry_after, gone),
            )
            .await;
            let Endpoint::Webhook(webhook_id) = delivery.endpoint else {
                return;
            };
            if let Some(reason) = why_disable(app, settings, webhook_id, gone) {
                let disable = WebhookCommand::Disable { reason, by: None };
                let ctx = Context::system(delivery.tenant_id, ACTOR);
                if let Err(e) = app.handler.run::<Webhook>(&ctx, webhook_id, disable).await {
                    tracing::warn!(webhook = %webhook_id, error = %e, "cannot disable the subscription");
                }
            }
        }
    }
}

/// Why the subscription should stop after a failure, if it should: its
/// receiver answered 410, or every delivery to it has failed for
/// `disable_after`.
fn why_disable(
    app: &App,
    settings: &DeliverySettings,
    webhook_id: Uuid,
    gone: bool,
) -> Option<String> {
    if gone {
        return Some("the receiver answered 410 Gone".into());
    }
    let since = app.delivery_queue.failing_since(webhook_id)?;
    let failing = (Utc::now() - since).to_std().ok()?;
    (failing >= settings.disable_after).then(|| {
        format!(
            "every delivery has failed since {} (for {} s or more)",
            since.to_rfc3339(),
            settings.disable_after.as_secs()
        )
    })
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

/// The delivered event, read back from the log; `None` when it is not there.
async fn event_of(app: &App, delivery: &Delivery) -> Result<Option<RecordedEvent>, AppError> {
    let found = app
        .store
        .read_all(delivery.event_position, 1, &EventFilter::default())
        .await?;
    Ok(found
        .into_iter()
        .next()
        .filter(|e| e.event_id == delivery.event_id))
}

/// What the receiver gets: the Standard Webhooks shape, with the event as
/// the audit routes show it in `data`; `None` if it cannot be written.
pub(crate) fn body(event: &RecordedEvent) -> Option<Vec<u8>> {
    let body = json!({
        "type": event.event_type,
        "timestamp": event.occurred_at,
        "data": event,
    });
    serde_json::to_vec(&body).ok()
}

/// Records an outcome until it is recorded: lost, the delivery would stay in
/// flight until its lease ends and be sent again. Each try is stamped with
/// the time it is made; a refusal (the attempt is no longer this one's) is
/// final.
async fn record(app: &App, delivery: &Delivery, id: Uuid, command: DeliveryCommand) {
    let decide = || {
        let ctx = Context::system(delivery.tenant_id, ACTOR);
        let command = command.clone();
        async move { app.handler.run::<Delivery>(&ctx, id, command).await }
    };
    let refused = |e: &CommandError| matches!(e, CommandError::Domain(_));
    if let Err(e) = retrying("record a delivery outcome", decide, refused).await {
        tracing::warn!(delivery = %id, error = %e, "delivery outcome refused");
    }
}
