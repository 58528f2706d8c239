//! The hash chain. Each event's hash covers every envelope field, its payload
//! text and the hash of the event before it in position order, so editing,
//! removing or reordering any stored event breaks every hash from it on.

use sha2::{Digest, Sha256};

use crate::event::RecordedEvent;
use crate::sql::row::EventRow;

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
