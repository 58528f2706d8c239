//! The events table's row, shared by every SQL backend: the same column types
//! decode from SQLite and PostgreSQL.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::StoreError;
use crate::event::RecordedEvent;

/// The events table's columns in `EventRow` order, as a literal so static SQL
/// can be built from it with `concat!`.
macro_rules! event_columns {
    () => {
        "position, event_id, stream_id, stream_version, event_type, schema_version, tenant_id, \
         occurred_at, recorded_at, actor_kind, actor_id, correlation_id, causation_id, payload, hash"
    };
}
pub(crate) use event_columns;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub(crate) struct EventRow {
    pub position: i64,
    pub event_id: Uuid,
    pub stream_id: String,
    pub stream_version: i64,
    pub event_type: String,
    pub schema_version: i32,
    pub tenant_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub actor_kind: String,
    pub actor_id: String,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    /// The payload's JSON text exactly as hashed.
    pub payload: String,
    pub hash: Vec<u8>,
}

impl EventRow {
    pub fn from_event(event: &RecordedEvent) -> Result<Self, serde_json::Error> {
        Ok(Self {
            position: event.position as i64,
            event_id: event.event_id,
            stream_id: event.stream_id.clone(),
            stream_version: event.stream_version as i64,
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            tenant_id: event.tenant_id,
            occurred_at: event.occurred_at,
            recorded_at: event.recorded_at,
            actor_kind: event.actor.kind.as_str().to_owned(),
            actor_id: event.actor.id.clone(),
            correlation_id: event.correlation_id,
            causation_id: event.causation_id,
            payload: serde_json::to_string(&event.payload)?,
            hash: event.hash.clone(),
        })
    }

    pub fn into_event(self) -> Result<RecordedEvent, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            position: self.position,
            reason,
        };
        let kind = self
            .actor_kind
            .parse()
            .map_err(|e| corrupt(format!("{e}")))?;
        let payload =
            serde_json::from_str(&self.payload).map_err(|e| corrupt(format!("payload: {e}")))?;
        let position = u64::try_from(self.position).map_err(|e| corrupt(format!("{e}")))?;
        let stream_version =
            u64::try_from(self.stream_version).map_err(|e| corrupt(format!("{e}")))?;
        Ok(RecordedEvent {
            position,
            stream_id: self.stream_id,
            stream_version,
            event_id: self.event_id,
            event_type: self.event_type,
            schema_version: self.schema_version,
            tenant_id: self.tenant_id,
            occurred_at: self.occurred_at,
            recorded_at: self.recorded_at,
            actor: agentledger_domain::Actor::new(kind, self.actor_id),
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            payload,
            hash: self.hash,
        })
    }
}

/// Where an already stored event sits, for idempotency checks.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct Placement {
    pub event_id: Uuid,
    pub stream_id: String,
    pub stream_version: i64,
    pub position: i64,
}

/// A stream's last version.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct StreamHead {
    pub stream_id: String,
    pub version: i64,
}

pub(crate) fn into_events(rows: Vec<EventRow>) -> Result<Vec<RecordedEvent>, StoreError> {
    rows.into_iter().map(EventRow::into_event).collect()
}
