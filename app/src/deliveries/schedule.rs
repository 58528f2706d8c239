//! The reactor that turns each event a subscription asks for, and each
//! ending of a task that named a `callback_url`, into a delivery; and a
//! subscription's request to replay a time range into deliveries again. It keeps the subscriptions as of its position in the log
//! (saved with its checkpoint), so a subscription receives exactly the
//! events that commit while it exists and is enabled, and the deliveries'
//! ids derive from the subscription and the event: re-reading the log after
//! a crash, or on a second server, schedules nothing twice.

use agentledger_commands::{Context, derived_id};
use agentledger_domain::Aggregate;
use agentledger_domain::codec::{CodecError, decode_if};
use agentledger_domain::delivery::{Delivery, DeliveryCommand, Endpoint, Subscribers};
use std::collections::HashMap;
use tokio::task::JoinSet;

use agentledger_domain::ids::{AgentId, TaskId, TenantId};
use agentledger_domain::task::{Task, TaskEvent};
use agentledger_domain::webhook::{Webhook, WebhookEvent};
use agentledger_store::{AsOf, EventFilter, Position, RecordedEvent};
use chrono::{DateTime, Utc};
use strum::VariantNames;
use uuid::Uuid;

use crate::app::App;
use crate::reactors::{BoxError, Reactor, id_of, insisting, load, persist};
use crate::relevance::Relevance;

/// Its name in `reactor_checkpoints` and in the ids of what it appends.
pub const NAME: &str = "webhook_deliveries";
/// Its name in `/ready` and `/metrics`, where `NAME` is the read model's.
pub const LABEL: &str = "webhook_delivery_scheduler";

pub(crate) struct Scheduler {
    subscribers: Subscribers,
    /// What concerns each agent that made a subscription, remembered
    /// between events (not saved: it is read from the aggregates again).
    agents: HashMap<AgentId, Relevance>,
    /// Deliveries being scheduled, each its own stream: side by side, so
    /// their appends share commits, and finished before the position moves.
    scheduling: JoinSet<()>,
}

/// How many deliveries are scheduled at once.
const SCHEDULING_AT_ONCE: usize = 64;

/// The delivery of `event_id` to `endpoint`: the same pair, the same id.
pub fn delivery_id(endpoint: Endpoint, event_id: Uuid) -> Uuid {
    match endpoint {
        Endpoint::Webhook(webhook_id) => derived_id(&format!("delivery:{webhook_id}:{event_id}")),
        Endpoint::Callback(task_id) => derived_id(&format!("callback:{task_id}:{event_id}")),
    }
}

/// The task whose ending `event` is, if it asked for a callback.
async fn ended_with_callback(
    app: &App,
    event: &RecordedEvent,
) -> Result<Option<TaskId>, CodecError> {
    let Some(task_id) = id_of::<Task>(event).map(TaskId) else {
        return Ok(None);
    };
    let ended = decode_if::<TaskEvent>(&event.event_type, event.schema_version, &event.payload)?
        .is_some_and(|e| {
            matches!(
                e,
                TaskEvent::TaskCompleted { .. }
                    | TaskEvent::TaskFailed { .. }
                    | TaskEvent::TaskCancelled { .. }
            )
        });
    if !ended {
        return Ok(None);
    }
    // The URL is set when the task is created and never changes.
    let task = load::<Task>(app, task_id).await?;
    Ok(task.callback_url.is_some().then_some(task_id))
}

#[async_trait::async_trait]
impl Reactor for Scheduler {
    const NAME: &'static str = NAME;

    /// Never saved: it starts at the head (events already in the log are
    /// not delivered after the fact), with the subscriptions the log holds.
    async fn resume(
        app: &App,
        saved: Option<(Position, String)>,
    ) -> Result<(Position, Self), BoxError> {
        if let Some((position, saved)) = saved {
            return Ok((position, Self::new(serde_json::from_str(&saved)?)));
        }
        let head = app.store.head_position().await?;
        let filter = EventFilter {
            event_types: WebhookEvent::VARIANTS
                .iter()
                .map(|t| (*t).to_owned())
                .collect(),
            ..EventFilter::default()
        };
        let mut subscribers = Subscribers::default();
        let mut next = 1;
        while next <= head {
            let page = app.store.read_all(next, 1000, &filter).await?;
            let Some(last) = page.last() else { break };
            next = last.position + 1;
            for event in page.iter().filter(|e| e.position <= head) {
                follow(&mut subscribers, event)?;
            }
        }
        Ok((head, Self::new(subscribers)))
    }

    fn saved(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&self.subscribers)
    }

    async fn react(&mut self, app: &App, event: &RecordedEvent) -> Result<(), CodecError> {
        // Deliveries are not delivered: a subscription to their events that
        // failed would schedule a delivery for each of its own failures.
        if Delivery::CATEGORY.holds(&event.stream_id) {
            return Ok(());
        }
        let asked = follow(&mut self.subscribers, event)?;
        let tenant = TenantId(event.tenant_id);
        let mut targets: Vec<Endpoint> = Vec::new();
        match asked {
            Asked::Ping(webhook_id) => targets.push(Endpoint::Webhook(webhook_id)),
            Asked::Replay {
                webhook_id,
                from,
                to,
            } => {
                return self.replay(app, event, webhook_id, (from, to)).await;
            }
            Asked::Nothing => {
                for (webhook_id, owner) in self.subscribers.of(tenant, &event.event_type) {
                    // An agent's subscription gets what its live feed would show.
                    if let Some(agent) = owner
                        && !self.concerns(app, agent, event).await
                    {
                        continue;
                    }
                    targets.push(Endpoint::Webhook(webhook_id));
                }
            }
        }
        targets.extend(
            ended_with_callback(app, event)
                .await?
                .map(Endpoint::Callback),
        );
        for endpoint in targets {
            self.schedule(app, event, event, endpoint, false).await;
        }
        Ok(())
    }

    async fn settle(&mut self) {
        while let Some(done) = self.scheduling.join_next().await {
            if let Err(e) = done {
                tracing::error!(error = %e, "scheduling a delivery stopped");
            }
        }
    }
}

impl Scheduler {
    fn new(subscribers: Subscribers) -> Self {
        Self {
            subscribers,
            agents: HashMap::new(),
            scheduling: JoinSet::new(),
        }
    }

    /// Starts scheduling the delivery of `event` to `endpoint`, because of
    /// `cause` (the event itself, or the request to replay it), once fewer
    /// than [`SCHEDULING_AT_ONCE`] are under way.
    async fn schedule(
        &mut self,
        app: &App,
        cause: &RecordedEvent,
        event: &RecordedEvent,
        endpoint: Endpoint,
        replay: bool,
    ) {
        while self.scheduling.len() >= SCHEDULING_AT_ONCE {
            if let Some(Err(e)) = self.scheduling.join_next().await {
                tracing::error!(error = %e, "scheduling a delivery stopped");
            }
        }
        let tenant = TenantId(event.tenant_id);
        let ctx = Context::reaction(tenant, NAME, cause.event_id, cause.correlation_id);
        let command = DeliveryCommand::Schedule {
            tenant_id: tenant,
            endpoint,
            event_id: event.event_id,
            event_position: event.position,
            event_type: event.event_type.clone(),
            at: ctx.at,
            replay,
        };
        let id = delivery_id(endpoint, event.event_id);
        let (app, cause) = (app.clone(), cause.clone());
        self.scheduling.spawn(async move {
            persist("schedule a delivery", &cause, || {
                app.handler.run::<Delivery>(&ctx, id, command.clone())
            })
            .await;
        });
    }

    /// Whether `event` concerns `agent`, asking until the store answers.
    async fn concerns(&mut self, app: &App, agent: AgentId, event: &RecordedEvent) -> bool {
        let relevance = self
            .agents
            .entry(agent)
            .or_insert_with(|| Relevance::new(agent));
        loop {
            // Retried here rather than through `retrying`: the relevance
            // borrows mutably across the await.
            match relevance.concerns(app, event).await {
                Ok(concerns) => return concerns,
                Err(e) => {
                    tracing::warn!(agent = %agent, error = %e, "cannot tell whether an event concerns an agent; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Delivers again to `webhook_id` what it asks for now among the events
    /// recorded in `range` before the request (`cause`), in log order, by the
    /// rules an event that commits follows. Read page by page; re-read after
    /// a crash, a delivery sent since is sent once more, under its id, as
    /// at-least-once allows.
    async fn replay(
        &mut self,
        app: &App,
        cause: &RecordedEvent,
        webhook_id: Uuid,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<(), CodecError> {
        // Deliveries of events before the request are scheduled first, so
        // the replay finds them and sends them again under their ids.
        self.settle().await;
        let Some((event_types, owner)) = self.subscribers.asks(webhook_id) else {
            return Ok(());
        };
        let filter = EventFilter {
            event_types: event_types.to_vec(),
            tenant_id: Some(cause.tenant_id),
            ..EventFilter::default()
        };
        let from_time = AsOf::Time(from);
        let start = insisting("find where a replay starts", || {
            from_time.resolve(app.store.as_ref())
        })
        .await
        .unwrap_or_default()
        .max(1);
        let mut next = start;
        while next < cause.position {
            let page = insisting("read events to replay", || {
                app.store.read_all(next, 500, &filter)
            })
            .await;
            let Some(last) = page.last() else { break };
            next = last.position + 1;
            for event in &page {
                if event.position >= cause.position || event.recorded_at > to {
                    return Ok(());
                }
                if event.recorded_at < from || Delivery::CATEGORY.holds(&event.stream_id) {
                    continue;
                }
                if let Some(agent) = owner
                    && !self.concerns(app, agent, event).await
                {
                    continue;
                }
                self.schedule(app, cause, event, Endpoint::Webhook(webhook_id), true)
                    .await;
            }
        }
        Ok(())
    }
}

/// What a subscription's event asks of the scheduler besides following it.
enum Asked {
    Nothing,
    /// A test delivery to this subscription.
    Ping(Uuid),
    /// Events of a time range delivered again to this subscription.
    Replay {
        webhook_id: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
}

/// Follows a subscription's event; what it asks for, if the subscription
/// is still delivered to.
fn follow(subscribers: &mut Subscribers, event: &RecordedEvent) -> Result<Asked, CodecError> {
    let Some(webhook_id) = id_of::<Webhook>(event) else {
        return Ok(Asked::Nothing);
    };
    let Some(webhook_event) =
        decode_if::<WebhookEvent>(&event.event_type, event.schema_version, &event.payload)?
    else {
        return Ok(Asked::Nothing);
    };
    subscribers.apply(webhook_id, &webhook_event);
    if !subscribers.delivers_to(webhook_id) {
        return Ok(Asked::Nothing);
    }
    Ok(match webhook_event {
        WebhookEvent::WebhookPinged => Asked::Ping(webhook_id),
        WebhookEvent::WebhookReplayRequested { from, to } => Asked::Replay {
            webhook_id,
            from,
            to,
        },
        _ => Asked::Nothing,
    })
}
