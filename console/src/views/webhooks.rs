//! Webhooks: the tenant's subscriptions, one subscription with its
//! deliveries and their status, and one delivery's attempts. Operators who
//! may run commands send a delivery again through the same use case as the
//! API. Signing secrets are never shown: neither the subscription nor its
//! deliveries carry them.

use agentledger_api::state::AppState;
use agentledger_app::caller::Caller;
use agentledger_app::deliveries;
use agentledger_app::queries::ListParams;
use agentledger_app::queries::webhooks_and_cache::subscriptions;
use agentledger_app::webhooks;
use agentledger_domain::delivery::DeliveryEvent;
use agentledger_projections::engine::decode_recorded;
use agentledger_projections::webhook_deliveries::{DeliveryRow, WebhookDeliveries};
use agentledger_projections::webhooks_and_cache::WebhookRow;
use askama::Template;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::form::{PageQuery, given};
use crate::page::{Layout, PageResult, html, refresh};
use crate::session::{Signed, Writer};
use crate::views::links;

#[derive(Template)]
#[template(path = "webhooks.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<WebhookRow>,
}

pub async fn page(State(state): State<AppState>, signed: Signed) -> PageResult {
    let layout = Layout::of(&state, &signed.session, "webhooks", "Webhooks").await?;
    let caller = Caller::Operator(signed.session.operator.clone());
    let found = subscriptions(&state, &caller, None, None).await?;
    Ok(html(&ListPage {
        layout,
        rows: found.value,
    }))
}

/// The deliveries' filter, as the URL carries it.
#[derive(Debug, Default, Deserialize)]
pub struct Asked {
    pub status: Option<String>,
    pub cursor: Option<i64>,
}

const STATUSES: [&str; 5] = [
    "pending",
    "in_flight",
    "succeeded",
    "exhausted",
    "cancelled",
];

#[derive(Template)]
#[template(path = "webhook.html")]
struct DetailPage {
    layout: Layout,
    webhook_id: Uuid,
    url: String,
    event_types: String,
    owner: Option<String>,
    disabled: Option<String>,
    asked: Asked,
    statuses: [&'static str; 5],
    deliveries: Vec<DeliveryRow>,
    next: Option<String>,
}

pub async fn detail(
    State(state): State<AppState>,
    signed: Signed,
    Path(webhook_id): Path<String>,
    PageQuery(asked): PageQuery<Asked>,
) -> PageResult {
    let webhook_id: Uuid = links::id(&webhook_id, "webhook")?;
    let caller = Caller::Operator(signed.session.operator.clone());
    let webhook = webhooks::detail(&state, &caller, webhook_id).await?;
    let status = given(&asked.status);
    let list = ListParams {
        cursor: asked.cursor,
        ..ListParams::default()
    };
    let page = deliveries::list(&state, &caller, webhook_id, status.as_deref(), list).await?;
    let layout = Layout::of(
        &state,
        &signed.session,
        "webhooks",
        format!("Webhook · {}", webhook.url),
    )
    .await?;
    let path = format!("/console/webhooks/{webhook_id}");
    let next = page.next_cursor.map(|c| {
        let query = links::query(&[("status", &asked.status)]);
        links::older(&path, &query, c)
    });
    Ok(html(&DetailPage {
        layout,
        webhook_id,
        url: webhook.url,
        event_types: webhook.event_types.join(", "),
        owner: webhook.owner.map(|agent| agent.to_string()),
        disabled: webhook.disabled,
        asked,
        statuses: STATUSES,
        deliveries: page.items,
        next,
    }))
}

/// One event of a delivery's stream, as the page shows it.
struct Step {
    at: DateTime<Utc>,
    position: u64,
    what: String,
    attempt: Option<u32>,
    status_code: Option<u16>,
    duration_ms: Option<i64>,
    note: Option<String>,
    /// When the next attempt is due, when the event says.
    due: Option<DateTime<Utc>>,
}

fn step(at: DateTime<Utc>, position: u64, what: &str) -> Step {
    Step {
        at,
        position,
        what: what.to_owned(),
        attempt: None,
        status_code: None,
        duration_ms: None,
        note: None,
        due: None,
    }
}

fn ms(value: u64) -> Option<i64> {
    Some(i64::try_from(value).unwrap_or(i64::MAX))
}

/// What one recorded event of a delivery says happened.
fn step_of(event: DeliveryEvent, at: DateTime<Utc>, position: u64) -> Step {
    use DeliveryEvent as E;
    match event {
        E::WebhookDeliveryScheduled {
            event_type,
            event_position,
            due_at,
            ..
        }
        | E::CallbackDeliveryScheduled {
            event_type,
            event_position,
            due_at,
            ..
        } => Step {
            note: Some(format!("{event_type}, log position {event_position}")),
            due: Some(due_at),
            ..step(at, position, "scheduled")
        },
        E::WebhookDeliveryAttempted { attempt, at: sent } => Step {
            attempt: Some(attempt),
            ..step(sent, position, "sent")
        },
        E::WebhookDeliverySucceeded {
            attempt,
            status_code,
            duration_ms,
        } => Step {
            attempt: Some(attempt),
            status_code: Some(status_code),
            duration_ms: ms(duration_ms),
            ..step(at, position, "succeeded")
        },
        E::WebhookDeliveryFailed {
            attempt,
            failure,
            next_attempt_at,
        } => Step {
            attempt: Some(attempt),
            status_code: failure.status_code,
            duration_ms: ms(failure.duration_ms),
            note: Some(failure.error),
            due: Some(next_attempt_at),
            ..step(at, position, "failed")
        },
        E::WebhookDeliveryExhausted {
            attempt,
            failure,
            gone,
        } => Step {
            attempt: Some(attempt),
            status_code: failure.status_code,
            duration_ms: ms(failure.duration_ms),
            note: Some(if gone {
                format!("the receiver answered 410 Gone: {}", failure.error)
            } else {
                failure.error
            }),
            ..step(at, position, "exhausted")
        },
        E::WebhookDeliveryRedelivered { due_at } => Step {
            due: Some(due_at),
            ..step(at, position, "sent again on request")
        },
        E::WebhookDeliveryCancelled { reason } => Step {
            note: Some(reason),
            ..step(at, position, "cancelled")
        },
    }
}

#[derive(Template)]
#[template(path = "delivery.html")]
struct DeliveryPage {
    layout: Layout,
    webhook_id: Uuid,
    delivery_id: Uuid,
    steps: Vec<Step>,
}

pub async fn delivery(
    State(state): State<AppState>,
    signed: Signed,
    Path((webhook_id, delivery_id)): Path<(String, String)>,
) -> PageResult {
    let webhook_id: Uuid = links::id(&webhook_id, "webhook")?;
    let delivery_id: Uuid = links::id(&delivery_id, "delivery")?;
    let caller = Caller::Operator(signed.session.operator.clone());
    let events = deliveries::attempts(&state, &caller, webhook_id, delivery_id).await?;
    let mut steps = Vec::with_capacity(events.len());
    for event in &events {
        if let Some(decoded) = decode_recorded::<DeliveryEvent>(event)? {
            steps.push(step_of(decoded, event.occurred_at, event.position));
        }
    }
    let layout = Layout::of(&state, &signed.session, "webhooks", "Webhook delivery").await?;
    Ok(html(&DeliveryPage {
        layout,
        webhook_id,
        delivery_id,
        steps,
    }))
}

/// Sends the delivery again under the same id, with a new round of
/// attempts (the app refuses while an attempt is in flight).
pub async fn redeliver(
    State(state): State<AppState>,
    Writer(signed): Writer,
    Path((webhook_id, delivery_id)): Path<(String, String)>,
) -> PageResult {
    let webhook_id: Uuid = links::id(&webhook_id, "webhook")?;
    let delivery_id: Uuid = links::id(&delivery_id, "delivery")?;
    let caller = Caller::Operator(signed.session.operator.clone());
    let position = deliveries::redeliver(&state, &caller, webhook_id, delivery_id).await?;
    state.caught_up(&WebhookDeliveries, Some(position)).await?;
    Ok(refresh())
}

/// Whether a delivery may be sent again from the page: not while an attempt
/// is on its way (the app would refuse).
pub fn redeliverable(status: &str) -> bool {
    status != "in_flight"
}
