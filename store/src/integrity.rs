//! The hash chain. Each event's hash covers every envelope field, its payload
//! text and the hash of the event before it in position order, so editing,
//! removing or reordering any stored event breaks every hash from it on.

use sha2::{Digest, Sha256};

use crate::event::{EventFilter, Position, RecordedEvent};
use crate::sql::row::EventRow;
use crate::{EventStore, StoreError};

pub const HASH_LEN: usize = 32;

/// The "previous hash" of the first event.
pub const GENESIS_HASH: [u8; HASH_LEN] = [0; HASH_LEN];

/// The hash `row` must carry when `previous` is the hash of the event before it.
pub(crate) fn event_hash(previous: &[u8], row: &EventRow) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(row.position.to_be_bytes());
    field(&mut h, row.stream_id.as_bytes());
    h.update(row.stream_version.to_be_bytes());
    h.update(row.event_id.as_bytes());
    field(&mut h, row.event_type.as_bytes());
    h.update(row.schema_version.to_be_bytes());
    h.update(row.tenant_id.as_bytes());
    h.update(row.occurred_at.timestamp_micros().to_be_bytes());
    h.update(row.recorded_at.timestamp_micros().to_be_bytes());
    field(&mut h, row.actor_kind.as_bytes());
    field(&mut h, row.actor_id.as_bytes());
    optional_id(&mut h, row.correlation_id);
    optional_id(&mut h, row.causation_id);
    field(&mut h, row.payload.as_bytes());
    h.finalize().to_vec()
}

/// The hash `event` must carry, recomputed from its decoded form. The payload
/// text is re-serialised, which reproduces the stored text for every payload
/// this store wrote (it stores `serde_json`'s own serialisation).
pub fn expected_hash(previous: &[u8], event: &RecordedEvent) -> Option<Vec<u8>> {
    let row = EventRow::from_event(event).ok()?;
    Some(event_hash(previous, &row))
}

// Length prefixes keep field boundaries unambiguous: ("ab","c") != ("a","bc").
fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

fn optional_id(h: &mut Sha256, id: Option<uuid::Uuid>) {
    match id {
        Some(id) => {
            h.update([1]);
            h.update(id.as_bytes());
        }
        None => h.update([0]),
    }
}

/// Where the chain first breaks, and how.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Break {
    pub position: Position,
    pub reason: String,
}

/// What a walk of the whole chain found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Verification {
    /// Events whose hash was recomputed and matched.
    pub verified: u64,
    /// The head the log says it has.
    pub head_position: Position,
    /// Hex SHA-256 of the last verified event: record it, and a later
    /// verification that passes through it proves nothing before it changed.
    pub last_hash: String,
    /// The first event whose content, order or presence does not match; none
    /// for an intact log.
    pub first_break: Option<Break>,
}

/// Events read per page while verifying.
const VERIFY_PAGE: usize = 1000;

/// Walks the log from the first event, recomputing each hash from the stored
/// content and the hash before it. `progress` is told each position reached.
/// It stops at the first break: every hash after it is chained to it.
pub async fn verify(
    store: &dyn EventStore,
    mut progress: impl FnMut(Position),
) -> Result<Verification, StoreError> {
    let head_position = store.head_position().await?;
    let mut previous = GENESIS_HASH.to_vec();
    let mut expected_position: Position = 1;
    let mut verified = 0;
    let found = |position, reason: &str| Break {
        position,
        reason: reason.to_owned(),
    };
    let first_break = 'walk: loop {
        let page = store
            .read_all(expected_position, VERIFY_PAGE, &EventFilter::default())
            .await?;
        if page.is_empty() {
            break (expected_position <= head_position).then(|| {
                found(
                    expected_position,
                    "missing: the log ends before its recorded head",
                )
            });
        }
        for event in &page {
            if event.position != expected_position {
                break 'walk Some(found(
                    expected_position,
                    "missing: no event at this position",
                ));
            }
            if expected_hash(&previous, event).as_deref() != Some(event.hash.as_slice()) {
                break 'walk Some(found(
                    event.position,
                    "altered: its content, or its place in the order, is not what was hashed",
                ));
            }
            previous.clone_from(&event.hash);
            expected_position += 1;
            verified += 1;
        }
        progress(expected_position - 1);
        if expected_position > head_position {
            break None;
        }
    };
    Ok(Verification {
        verified,
        head_position,
        last_hash: crate::to_hex(&previous),
        first_break,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::now;
    use uuid::Uuid;

    fn sample() -> EventRow {
        EventRow {
            position: 1,
            event_id: Uuid::now_v7(),
            stream_id: "agent-1".into(),
            stream_version: 0,
            event_type: "AgentRegistered".into(),
            schema_version: 1,
            tenant_id: Uuid::now_v7(),
            occurred_at: now(),
            recorded_at: now(),
            actor_kind: "system".into(),
            actor_id: "test".into(),
            correlation_id: None,
            causation_id: None,
            payload: r#"{"name":"a"}"#.into(),
            hash: vec![],
        }
    }

    #[test]
    fn every_field_and_the_previous_hash_change_the_hash() {
        let base = sample();
        let reference = event_hash(&GENESIS_HASH, &base);
        assert_eq!(reference.len(), HASH_LEN);
        assert_eq!(reference, event_hash(&GENESIS_HASH, &base));
        assert_ne!(reference, event_hash(&[1; HASH_LEN], &base));

        let changes: Vec<fn(&mut EventRow)> = vec![
            |e| e.position = 2,
            |e| e.event_id = Uuid::now_v7(),
            |e| e.stream_id = "agent-2".into(),
            |e| e.stream_version = 1,
            |e| e.event_type = "AgentDisabled".into(),
            |e| e.schema_version = 2,
            |e| e.tenant_id = Uuid::now_v7(),
            |e| e.occurred_at += chrono::Duration::microseconds(1),
            |e| e.recorded_at += chrono::Duration::microseconds(1),
            |e| e.actor_kind = "agent".into(),
            |e| e.actor_id = "other".into(),
            |e| e.correlation_id = Some(Uuid::nil()),
            |e| e.causation_id = Some(Uuid::nil()),
            |e| e.payload = r#"{"name":"b"}"#.into(),
        ];
        for change in changes {
            let mut e = base.clone();
            change(&mut e);
            assert_ne!(reference, event_hash(&GENESIS_HASH, &e), "{e:?}");
        }
    }

    #[test]
    fn field_boundaries_are_part_of_the_hash() {
        let mut a = sample();
        a.actor_kind = "ab".into();
        a.actor_id = "c".into();
        let mut b = sample();
        b.event_id = a.event_id;
        b.tenant_id = a.tenant_id;
        b.occurred_at = a.occurred_at;
        b.recorded_at = a.recorded_at;
        b.actor_kind = "a".into();
        b.actor_id = "bc".into();
        assert_ne!(event_hash(&GENESIS_HASH, &a), event_hash(&GENESIS_HASH, &b));
    }
}
