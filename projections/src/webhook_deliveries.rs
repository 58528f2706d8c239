//! Deliveries: each as it stands (status, attempts, the last outcome, when
//! the next attempt is due), listed per subscription or per task; and the
//! deliveries still to be made, in memory, for the worker that makes them.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use agentledger_domain::Aggregate;
use agentledger_domain::codec::{CodecError, decode_if};
use agentledger_domain::delivery::{
    Delivery, DeliveryEvent, DeliveryEventType, DeliveryStatus, Endpoint,
};
use agentledger_domain::ids::{TaskId, TenantId};
use agentledger_store::{Database, RecordedEvent, on_database};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::engine::{Projection, ProjectionError, decode_event};
use crate::follower::Apply;
use crate::sql_projection;

pub struct WebhookDeliveries;

impl Projection for WebhookDeliveries {
    fn name(&self) -> &'static str {
        "webhook_deliveries"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_webhook_deliveries"]
    }
}

sql_projection!(WebhookDeliveries, |_this, conn, events| {
    for event in events {
        let Some(delivery_id) = Delivery::CATEGORY.id_in(&event.stream_id) else {
            continue;
        };
        let Some(delivery) = decode_event::<DeliveryEvent>(event)? else {
            continue;
        };
        let at = event.occurred_at.timestamp_micros();
        let status = |s: DeliveryStatus| s.as_str();
        use DeliveryEvent as E;
        match delivery {
            E::WebhookDeliveryScheduled {
                webhook_id: endpoint_id,
                event_id,
                event_position,
                event_type,
                due_at,
                ..
            }
            | E::CallbackDeliveryScheduled {
                task_id: TaskId(endpoint_id),
                event_id,
                event_position,
                event_type,
                due_at,
                ..
            } => {
                let kind = if event.event_type
                    == DeliveryEventType::CallbackDeliveryScheduled.into_str()
                {
                    CALLBACK
                } else {
                    WEBHOOK
                };
                sqlx::query(
                    "INSERT INTO rm_webhook_deliveries (delivery_id, tenant_id, endpoint_kind, endpoint_id, event_id, \
                     event_type, event_position, status, attempts, next_attempt_us, created_us, updated_us, seq) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $10, $11) ON CONFLICT (delivery_id) DO NOTHING",
                )
                .bind(delivery_id)
                .bind(event.tenant_id.to_string())
                .bind(kind)
                .bind(endpoint_id.to_string())
                .bind(event_id.to_string())
                .bind(event_type)
                .bind(crate::engine::clamp(*event_position))
                .bind(status(DeliveryStatus::Pending))
                .bind(due_at.timestamp_micros())
                .bind(at)
                .bind(crate::engine::clamp(event.position))
                .execute(&mut *conn)
                .await?;
            }
            E::WebhookDeliveryAttempted { attempt, .. } => {
                sqlx::query(
                    "UPDATE rm_webhook_deliveries SET status = $1, attempts = $2, next_attempt_us = NULL, \
                     updated_us = $3 WHERE delivery_id = $4",
                )
                .bind(status(DeliveryStatus::InFlight))
                .bind(i64::from(*attempt))
                .bind(at)
                .bind(delivery_id)
                .execute(&mut *conn)
                .await?;
            }
            E::WebhookDeliverySucceeded {
                status_code,
                duration_ms,
                ..
            } => {
                sqlx::query(
                    "UPDATE rm_webhook_deliveries SET status = $1, last_status_code = $2, last_error = NULL, \
                     last_duration_ms = $3, updated_us = $4 WHERE delivery_id = $5",
                )
                .bind(status(DeliveryStatus::Succeeded))
                .bind(i64::from(*status_code))
                .bind(i64::try_from(*duration_ms).unwrap_or(i64::MAX))
                .bind(at)
                .bind(delivery_id)
                .execute(&mut *conn)
                .await?;
            }
            E::WebhookDeliveryFailed {
                failure,
                next_attempt_at,
                ..
            } => {
                sqlx::query(
                    "UPDATE rm_webhook_deliveries SET status = $1, last_status_code = $2, last_error = $3, \
                     last_duration_ms = $4, next_attempt_us = $5, updated_us = $6 WHERE delivery_id = $7",
                )
                .bind(status(DeliveryStatus::Pending))
                .bind(failure.status_code.map(i64::from))
                .bind(&failure.error)
                .bind(i64::try_from(failure.duration_ms).unwrap_or(i64::MAX))
                .bind(next_attempt_at.timestamp_micros())
                .bind(at)
                .bind(delivery_id)
                .execute(&mut *conn)
                .await?;
            }
            E::WebhookDeliveryExhausted { failure, .. } => {
                sqlx::query(
                    "UPDATE rm_webhook_deliveries SET status = $1, last_status_code = $2, last_error = $3, \
                     last_duration_ms = $4, next_attempt_us = NULL, updated_us = $5 WHERE delivery_id = $6",
                )
                .bind(status(DeliveryStatus::Exhausted))
                .bind(failure.status_code.map(i64::from))
                .bind(&failure.error)
                .bind(i64::try_from(failure.duration_ms).unwrap_or(i64::MAX))
                .bind(at)
                .bind(delivery_id)
                .execute(&mut *conn)
                .await?;
            }
            E::WebhookDeliveryRedelivered { due_at } => {
                sqlx::query(
                    "UPDATE rm_webhook_deliveries SET status = $1, next_attempt_us = $2, updated_us = $3 \
                     WHERE delivery_id = $4",
                )
                .bind(status(DeliveryStatus::Pending))
                .bind(due_at.timestamp_micros())
                .bind(at)
                .bind(delivery_id)
                .execute(&mut *conn)
                .await?;
            }
            E::WebhookDeliveryCancelled { reason } => {
                sqlx::query(
                    "UPDATE rm_webhook_deliveries SET status = $1, last_error = $2, next_attempt_us = NULL, \
                     updated_us = $3 WHERE delivery_id = $4",
                )
                .bind(status(DeliveryStatus::Cancelled))
                .bind(reason)
                .bind(at)
                .bind(delivery_id)
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    Ok(())
});

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct DeliveryRow {
    /// Sent as the `webhook-id` header: the same on every attempt.
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub delivery_id: String,
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub event_id: String,
    pub event_type: String,
    pub event_position: i64,
    /// `pending`, `in_flight`, `succeeded`, `exhausted` or `cancelled`.
    pub status: String,
    pub attempts: i64,
    /// The receiver's status on the last attempt, when it answered.
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub last_duration_ms: Option<i64>,
    #[serde(
        rename = "next_attempt_at",
        serialize_with = "crate::wire::maybe_instant"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub next_attempt_us: Option<i64>,
    #[serde(rename = "created_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_us: i64,
    #[serde(rename = "updated_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_us: i64,
    /// The position of its scheduling: the key the list is paged by.
    pub seq: i64,
}

const WEBHOOK: &str = "webhook";
const CALLBACK: &str = "callback";

/// The deliveries to `endpoint` (a subscription's, or a task's callbacks),
/// newest first, before `before` (a `seq`).
pub async fn list(
    db: &Database,
    tenant: TenantId,
    endpoint: Endpoint,
    status: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, ProjectionError> {
    let (kind, id) = match endpoint {
        Endpoint::Webhook(id) => (WEBHOOK, id),
        Endpoint::Callback(TaskId(id)) => (CALLBACK, id),
    };
    Ok(on_database!(db, p => sqlx::query_as::<_, DeliveryRow>(
        "SELECT delivery_id, event_id, event_type, event_position, status, attempts, last_status_code, \
         last_error, last_duration_ms, next_attempt_us, created_us, updated_us, seq FROM rm_webhook_deliveries \
         WHERE tenant_id = $1 AND endpoint_kind = $2 AND endpoint_id = $3 \
         AND (CAST($4 AS TEXT) IS NULL OR status = $4) \
         AND (CAST($5 AS BIGINT) IS NULL OR seq < $5) ORDER BY seq DESC LIMIT $6"
    )
    .bind(tenant.to_string()).bind(kind).bind(id.to_string()).bind(status).bind(before).bind(limit)
    .fetch_all(p)
    .await?))
}

/// The deliveries still to be made, as their aggregates stand: what the
/// delivery worker looks at. Finished ones leave it.
#[derive(Default)]
pub struct DeliveryQueue {
    open: RwLock<HashMap<Uuid, Delivery>>,
    /// Per subscription, since when its deliveries have failed without one
    /// succeeding in between.
    failing: RwLock<HashMap<Uuid, DateTime<Utc>>>,
}

impl DeliveryQueue {
    /// Deliveries whose attempt may start at `now`: due, or in flight past
    /// the lease (the server making them stopped), soonest first, then in
    /// log order.
    pub fn due(&self, now: DateTime<Utc>, limit: usize) -> Vec<(Uuid, Delivery)> {
        let open = self.open.read().unwrap_or_else(PoisonError::into_inner);
        let mut due: Vec<(Uuid, Delivery)> = open
            .iter()
            .filter(|(_, d)| d.is_due(now) || d.is_interrupted(now))
            .map(|(id, d)| (*id, d.clone()))
            .collect();
        due.sort_by_key(|(_, d)| (d.next_attempt_at.or(d.in_flight_since), d.event_position));
        due.truncate(limit);
        due
    }

    /// Since when deliveries to `webhook_id` have failed with none
    /// succeeding since.
    pub fn failing_since(&self, webhook_id: Uuid) -> Option<DateTime<Utc>> {
        self.failing
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&webhook_id)
            .copied()
    }

    /// How many deliveries are still to be made.
    pub fn len(&self) -> usize {
        self.open
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Apply for DeliveryQueue {
    fn apply(&self, event: &RecordedEvent) -> Result<(), CodecError> {
        let Some(id) = Delivery::CATEGORY
            .id_in(&event.stream_id)
            .and_then(|id| id.parse::<Uuid>().ok())
        else {
            return Ok(());
        };
        let Some(delivery) =
            decode_if::<DeliveryEvent>(&event.event_type, event.schema_version, &event.payload)?
        else {
            return Ok(());
        };
        let mut open = self.open.write().unwrap_or_else(PoisonError::into_inner);
        let state = Delivery::evolve(open.remove(&id).unwrap_or_default(), &delivery);
        // A delivery followed again from a redelivery on does not know its
        // subscription here; the worker loads it.
        if let (true, Endpoint::Webhook(webhook_id)) = (state.exists, state.endpoint) {
            let mut failing = self.failing.write().unwrap_or_else(PoisonError::into_inner);
            match &delivery {
                DeliveryEvent::WebhookDeliverySucceeded { .. } => {
                    failing.remove(&webhook_id);
                }
                DeliveryEvent::WebhookDeliveryFailed { .. }
                | DeliveryEvent::WebhookDeliveryExhausted { .. } => {
                    failing.entry(webhook_id).or_insert(event.occurred_at);
                }
                _ => {}
            }
        }
        if matches!(
            state.status,
            DeliveryStatus::Pending | DeliveryStatus::InFlight
        ) {
            open.insert(id, state);
        }
        Ok(())
    }
}
