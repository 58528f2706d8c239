//! The reactor that turns each event a subscription asks for into a
//! delivery. It keeps the subscriptions as of its position in the log
//! (saved with its checkpoint), so a subscription receives exactly the
//! events that commit while it exists and is enabled, and the deliveries'
//! ids derive from the subscription and the event: re-reading the log after
//! a crash, or on a second server, schedules nothing twice.

use agentledger_commands::{Context, derived_id};
use agentledger_domain::Aggregate;
use agentledger_domain::codec::{CodecError, decode_if};
use agentledger_domain::delivery::{Delivery, DeliveryCommand, Subscribers};
use agentledger_domain::ids::TenantId;
use agentledger_domain::webhook::{Webhook, WebhookEvent};
use agentledger_store::{EventFilter, Position, RecordedEvent};
use strum::VariantNames;
use uuid::Uuid;

use crate::app::App;
use crate::reactors::{BoxError, Reactor, persist};

/// Its name in `reactor_checkpoints`, `/ready` and `/metrics`.
pub const NAME: &str = "webhook_deliveries";

pub(crate) struct Scheduler(Subscribers);

/// The delivery of `event_id` to `webhook_id`: the same pair, the same id.
pub fn delivery_id(webhook_id: Uuid, event_id: Uuid) -> Uuid {
    derived_id(&format!("delivery:{webhook_id}:{event_id}"))
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
            return Ok((position, Self(serde_json::from_str(&saved)?)));
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
        Ok((head, Self(subscribers)))
    }

    fn saved(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&self.0)
    }

    async fn react(&mut self, app: &App, event: &RecordedEvent) -> Result<(), CodecError> {
        // Deliveries are not delivered: a subscription to their events that
        // failed would schedule a delivery for each of its own failures.
        if Delivery::CATEGORY.holds(&event.stream_id) {
            return Ok(());
        }
        let pinged = follow(&mut self.0, event)?;
        let tenant = TenantId(event.tenant_id);
        let targets = match pinged {
            Some(webhook_id) => vec![webhook_id],
            None => self.0.of(tenant, &event.event_type),
        };
        for webhook_id in targets {
            let ctx = Context::reaction(tenant, NAME, event.event_id, event.correlation_id);
            let command = DeliveryCommand::Schedule {
                tenant_id: tenant,
                webhook_id,
                event_id: event.event_id,
                event_position: event.position,
                event_type: event.event_type.clone(),
                at: ctx.at,
            };
            let id = delivery_id(webhook_id, event.event_id);
            persist("schedule a webhook delivery", event, || {
                app.handler.run::<Delivery>(&ctx, id, command.clone())
            })
            .await;
        }
        Ok(())
    }
}

/// Follows a subscription's event; the subscription when it was pinged
/// (and delivers).
fn follow(
    subscribers: &mut Subscribers,
    event: &RecordedEvent,
) -> Result<Option<Uuid>, CodecError> {
    let Some(webhook_id) = Webhook::CATEGORY
        .id_in(&event.stream_id)
        .and_then(|id| id.parse::<Uuid>().ok())
    else {
        return Ok(None);
    };
    let Some(webhook_event) =
        decode_if::<WebhookEvent>(&event.event_type, event.schema_version, &event.payload)?
    else {
        return Ok(None);
    };
    subscribers.apply(webhook_id, &webhook_event);
    Ok((matches!(webhook_event, WebhookEvent::WebhookPinged)
        && subscribers.delivers_to(webhook_id))
    .then_some(webhook_id))
}
