//! The event envelope as written (`NewEvent`) and as stored (`RecordedEvent`).

use agentledger_domain::{Actor, ActorKind};
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Global position in the log: 1 for the first event, strictly increasing and
/// gap-free. 0 means "before the first event".
pub type Position = u64;

/// An event the caller wants appended. The store adds stream, version,
/// position, `recorded_at` and the hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// The idempotency key: appending an id that is already stored writes nothing.
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i32,
    pub tenant_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor: Actor,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    pub payload: serde_json::Value,
}

impl NewEvent {
    /// An event with a fresh UUIDv7 id, occurring now, at schema version 1.
    pub fn new(
        tenant_id: Uuid,
        actor: Actor,
        event_type: impl Into<String>,
        payload: serde_json::Value,
    ) -> Self {
        Self {
            event_id: Uuid::now_v7(),
            event_type: event_type.into(),
            schema_version: 1,
            tenant_id,
            occurred_at: now(),
            actor,
            correlation_id: None,
            causation_id: None,
            payload,
        }
    }
}

/// An event as it stands in the log.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    pub position: Position,
    pub stream_id: String,
    /// 0-based and contiguous within the stream.
    pub stream_version: u64,
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i32,
    pub tenant_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub actor: Actor,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    pub payload: serde_json::Value,
    /// SHA-256 over this event's content and the hash of the event before it.
    #[serde(with = "hex_bytes")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "9f86d081884c7d65…"))]
    pub hash: Vec<u8>,
}

/// What the caller expects the stream's last version to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "version")]
pub enum ExpectedVersion {
    Any,
    NoStream,
    Exists,
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream whose last version is `current` satisfies this expectation.
    pub fn admits(self, current: Option<u64>) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => current.is_none(),
            ExpectedVersion::Exists => current.is_some(),
            ExpectedVersion::Exact(v) => current == Some(v),
        }
    }
}

/// Where one appended event landed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    pub event_id: Uuid,
    pub stream_version: u64,
    pub position: Position,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendOutcome {
    pub events: Vec<Committed>,
    /// True when every event was already stored and nothing was written.
    pub deduplicated: bool,
}

impl AppendOutcome {
    pub fn last_position(&self) -> Position {
        self.events.last().map_or(0, |c| c.position)
    }

    pub fn last_version(&self) -> Option<u64> {
        self.events.last().map(|c| c.stream_version)
    }
}

/// Which events `read_all` returns. Empty fields do not filter; set fields
/// must all match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFilter {
    pub event_types: Vec<String>,
    pub tenant_id: Option<Uuid>,
    /// One stream's events only.
    pub stream_id: Option<String>,
    /// Who caused the event: its kind, its id, or both.
    pub actor_kind: Option<ActorKind>,
    pub actor_id: Option<String>,
    /// Everything one request caused, across streams.
    pub correlation_id: Option<Uuid>,
    /// `occurred_at` at or after this instant.
    pub occurred_from: Option<DateTime<Utc>>,
    /// `occurred_at` before this instant.
    pub occurred_to: Option<DateTime<Utc>>,
    /// At or before this position: a prefix of the log, read without
    /// reading past its end.
    pub to_position: Option<Position>,
}

impl EventFilter {
    pub fn matches(&self, event: &RecordedEvent) -> bool {
        (self.event_types.is_empty() || self.event_types.contains(&event.event_type))
            && self.tenant_id.is_none_or(|t| t == event.tenant_id)
            && self
                .stream_id
                .as_ref()
                .is_none_or(|s| *s == event.stream_id)
            && self.actor_kind.is_none_or(|k| k == event.actor.kind)
            && self.actor_id.as_ref().is_none_or(|a| *a == event.actor.id)
            && self
                .correlation_id
                .is_none_or(|c| Some(c) == event.correlation_id)
            && self.occurred_from.is_none_or(|t| event.occurred_at >= t)
            && self.occurred_to.is_none_or(|t| event.occurred_at < t)
            && self.to_position.is_none_or(|p| event.position <= p)
    }
}

/// The current time at the precision every backend stores (microseconds), so an
/// event reads back exactly as it was hashed.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::to_hex(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        super::from_hex(&text).ok_or_else(|| serde::de::Error::custom("invalid hex"))
    }
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_version_admits_exactly_its_cases() {
        use ExpectedVersion::*;
        assert!(Any.admits(None) && Any.admits(Some(3)));
        assert!(NoStream.admits(None) && !NoStream.admits(Some(0)));
        assert!(Exists.admits(Some(0)) && !Exists.admits(None));
        assert!(Exact(2).admits(Some(2)));
        assert!(!Exact(2).admits(Some(1)) && !Exact(0).admits(None));
    }

    #[test]
    fn hex_round_trips() {
        let bytes = vec![0u8, 1, 0xab, 0xff];
        assert_eq!(to_hex(&bytes), "0001abff");
        assert_eq!(from_hex("0001abff"), Some(bytes));
        assert_eq!(from_hex("0g"), None);
        assert_eq!(from_hex("abc"), None);
    }
}
