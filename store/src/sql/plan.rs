//! Deciding what one group commit writes. Pure: given the log's head, what is
//! already stored and the pending appends, it assigns versions, positions and
//! hashes, and gives each append its own outcome. One append's conflict never
//! affects another's.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::StoreError;
use crate::event::{AppendOutcome, Committed, ExpectedVersion, NewEvent};
use crate::integrity::event_hash;
use crate::sql::row::{EventRow, Placement, StreamHead};

/// The last event of the log: its position, hash and recording time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub position: i64,
    pub hash: Vec<u8>,
    pub recorded_at: Option<DateTime<Utc>>,
}

/// Reads the head: its position and hash, and the last event's recording
/// time. PostgreSQL appends `FOR UPDATE`.
macro_rules! read_head {
    () => {
        "SELECT position, hash, (SELECT recorded_at FROM events WHERE position = log_head.position) \
         FROM log_head WHERE id = 1"
    };
}
pub(crate) use read_head;

impl From<(i64, Vec<u8>, Option<DateTime<Utc>>)> for Head {
    fn from((position, hash, recorded_at): (i64, Vec<u8>, Option<DateTime<Utc>>)) -> Self {
        Self {
            position,
            hash,
            recorded_at,
        }
    }
}

pub(crate) struct Append<'a> {
    pub stream_id: &'a str,
    pub expected: ExpectedVersion,
    pub events: &'a [NewEvent],
}

/// An append waiting for its group commit, owned so that it can cross to
/// the thread or connection that writes it.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub stream_id: String,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
}

impl Pending {
    pub fn as_append(&self) -> Append<'_> {
        Append {
            stream_id: &self.stream_id,
            expected: self.expected,
            events: &self.events,
        }
    }
}

pub(crate) struct Plan {
    pub rows: Vec<EventRow>,
    pub outcomes: Vec<Result<AppendOutcome, StoreError>>,
    pub head: Head,
}

pub(crate) const MAX_STREAM_ID_LEN: usize = 256;

pub(crate) fn plan(
    head: Head,
    stored: Vec<Placement>,
    stream_heads: Vec<StreamHead>,
    appends: &[Append<'_>],
    now: DateTime<Utc>,
) -> Plan {
    // Recording times never go back along the log, even if this clock is
    // behind the one of the server that wrote the last event: "the log as of
    // a time" is then always a prefix of the log.
    let recorded_at = head.recorded_at.map_or(now, |last| now.max(last));
    let mut state = State {
        placements: stored.into_iter().map(|p| (p.event_id, p)).collect(),
        versions: stream_heads
            .into_iter()
            .map(|s| (s.stream_id, s.version))
            .collect(),
        head,
        rows: Vec::new(),
    };
    let outcomes = appends
        .iter()
        .map(|append| state.apply(append, recorded_at))
        .collect();
    Plan {
        rows: state.rows,
        outcomes,
        head: state.head,
    }
}

struct State {
    placements: HashMap<Uuid, Placement>,
    versions: HashMap<String, i64>,
    head: Head,
    rows: Vec<EventRow>,
}

impl State {
    fn apply(
        &mut self,
        append: &Append<'_>,
        recorded_at: DateTime<Utc>,
    ) -> Result<AppendOutcome, StoreError> {
        validate(append)?;
        if let Some(outcome) = self.already_stored(append)? {
            return Ok(outcome);
        }
        let current = self.versions.get(append.stream_id).copied();
        let current_u64 = current.map(|v| v as u64);
        if !append.expected.admits(current_u64) {
            return Err(StoreError::Conflict {
                stream: append.stream_id.to_owned(),
                expected: append.expected,
                actual: current_u64,
            });
        }
        // Payloads are serialised before anything is assigned, so a failure
        // leaves the state untouched.
        let payloads = append
            .events
            .iter()
            .map(|e| serde_json::to_string(&e.payload))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::InvalidAppend(format!("payload: {e}")))?;

        let mut version = current.map_or(0, |v| v + 1);
        let mut committed = Vec::with_capacity(append.events.len());
        for (event, payload) in append.events.iter().zip(payloads) {
            let position = self.head.position + 1;
            let mut row = EventRow {
                position,
                event_id: event.event_id,
                stream_id: append.stream_id.to_owned(),
                stream_version: version,
                event_type: event.event_type.clone(),
                schema_version: event.schema_version,
                tenant_id: event.tenant_id,
                occurred_at: event.occurred_at,
                recorded_at,
                actor_kind: event.actor.kind.as_str().to_owned(),
                actor_id: event.actor.id.clone(),
                correlation_id: event.correlation_id,
                causation_id: event.causation_id,
                payload,
                hash: Vec::new(),
            };
            row.hash = event_hash(&self.head.hash, &row);
            self.head = Head {
                position,
                hash: row.hash.clone(),
                recorded_at: Some(recorded_at),
            };
            self.placements.insert(
                event.event_id,
                Placement {
                    event_id: event.event_id,
                    stream_id: append.stream_id.to_owned(),
                    stream_version: version,
                    position,
                },
            );
            committed.push(Committed {
                event_id: event.event_id,
                stream_version: version as u64,
                position: position as u64,
            });
            self.rows.push(row);
            version += 1;
        }
        self.versions
            .insert(append.stream_id.to_owned(), version - 1);
        Ok(AppendOutcome {
            events: committed,
            deduplicated: false,
        })
    }

    /// `Some` when every event of the append is stored already, in this stream
    /// and in this order: the append is a retry and its original outcome stands.
    fn already_stored(&self, append: &Append<'_>) -> Result<Option<AppendOutcome>, StoreError> {
        let found: Vec<Option<&Placement>> = append
            .events
            .iter()
            .map(|e| self.placements.get(&e.event_id))
            .collect();
        let Some(first_found) = found.iter().flatten().next() else {
            return Ok(None);
        };
        let mismatch = || StoreError::IdempotencyMismatch {
            event_id: first_found.event_id,
        };
        let mut committed = Vec::with_capacity(found.len());
        for (i, placement) in found.iter().enumerate() {
            let placement = placement.ok_or_else(mismatch)?;
            let in_order = placement.stream_id == append.stream_id
                && placement.stream_version == first_found.stream_version + i as i64;
            if !in_order {
                return Err(mismatch());
            }
            committed.push(Committed {
                event_id: placement.event_id,
                stream_version: placement.stream_version as u64,
                position: placement.position as u64,
            });
        }
        Ok(Some(AppendOutcome {
            events: committed,
            deduplicated: true,
        }))
    }
}

fn validate(append: &Append<'_>) -> Result<(), StoreError> {
    let invalid = |why: String| Err(StoreError::InvalidAppend(why));
    if append.events.is_empty() {
        return invalid("an append needs at least one event".into());
    }
    if append.stream_id.is_empty() || append.stream_id.len() > MAX_STREAM_ID_LEN {
        return invalid(format!(
            "stream id must be 1 to {MAX_STREAM_ID_LEN} bytes long"
        ));
    }
    let mut ids = HashSet::with_capacity(append.events.len());
    for event in append.events {
        if event.event_type.is_empty() {
            return invalid(format!("event {} has no event type", event.event_id));
        }
        if !ids.insert(event.event_id) {
            return invalid(format!("event id {} appears twice", event.event_id));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::now;
    use crate::integrity::GENESIS_HASH;
    use agentledger_domain::Actor;
    use serde_json::json;

    fn genesis() -> Head {
        Head {
            position: 0,
            hash: GENESIS_HASH.to_vec(),
            recorded_at: None,
        }
    }

    fn event(n: u32) -> NewEvent {
        NewEvent::new(
            Uuid::nil(),
            Actor::system("test"),
            "Tested",
            json!({ "n": n }),
        )
    }

    fn append<'a>(
        stream: &'a str,
        expected: ExpectedVersion,
        events: &'a [NewEvent],
    ) -> Append<'a> {
        Append {
            stream_id: stream,
            expected,
            events,
        }
    }

    #[test]
    fn positions_versions_and_hashes_chain_across_appends_in_one_batch() {
        let a = [event(1), event(2)];
        let b = [event(3)];
        let plan = plan(
            genesis(),
            vec![],
            vec![],
            &[
                append("s-a", ExpectedVersion::NoStream, &a),
                append("s-b", ExpectedVersion::Any, &b),
            ],
            now(),
        );
        let positions: Vec<i64> = plan.rows.iter().map(|r| r.position).collect();
        assert_eq!(positions, [1, 2, 3]);
        let versions: Vec<i64> = plan.rows.iter().map(|r| r.stream_version).collect();
        assert_eq!(versions, [0, 1, 0]);
        assert_eq!(plan.rows[0].hash, event_hash(&GENESIS_HASH, &plan.rows[0]));
        assert_eq!(
            plan.rows[1].hash,
            event_hash(&plan.rows[0].hash, &plan.rows[1])
        );
        assert_eq!(
            plan.rows[2].hash,
            event_hash(&plan.rows[1].hash, &plan.rows[2])
        );
        assert_eq!(plan.head.position, 3);
        assert_eq!(plan.head.hash, plan.rows[2].hash);
        assert!(plan.outcomes.iter().all(|o| o.is_ok()));
    }

    #[test]
    fn a_conflict_rejects_only_its_own_append() {
        let a = [event(1)];
        let b = [event(2)];
        let c = [event(3)];
        let plan = plan(
            genesis(),
            vec![],
            vec![StreamHead {
                stream_id: "s".into(),
                version: 4,
            }],
            &[
                append("s", ExpectedVersion::Exact(4), &a),
                // Expected 4 too, but the append before it moved the stream to 5.
                append("s", ExpectedVersion::Exact(4), &b),
                append("s", ExpectedVersion::Exact(5), &c),
            ],
            now(),
        );
        assert_eq!(plan.rows.len(), 2);
        assert!(matches!(
            plan.outcomes[1],
            Err(StoreError::Conflict {
                actual: Some(5),
                ..
            })
        ));
        let last = plan.outcomes[2].as_ref().map(|o| o.last_version());
        assert_eq!(last.ok().flatten(), Some(6));
    }

    #[test]
    fn a_retry_of_stored_events_returns_their_placement_and_writes_nothing() {
        let a = [event(1), event(2)];
        let stored: Vec<Placement> = a
            .iter()
            .enumerate()
            .map(|(i, e)| Placement {
                event_id: e.event_id,
                stream_id: "s".into(),
                stream_version: i as i64,
                position: 10 + i as i64,
            })
            .collect();
        let head = Head {
            position: 11,
            hash: vec![7; 32],
            recorded_at: None,
        };
        // The expected version no longer holds, but a retry must still succeed.
        let plan = plan(
            head.clone(),
            stored,
            vec![],
            &[append("s", ExpectedVersion::NoStream, &a)],
            now(),
        );
        assert!(plan.rows.is_empty());
        assert_eq!(plan.head, head);
        let outcome = plan.outcomes[0].as_ref().ok();
        assert_eq!(outcome.map(|o| o.deduplicated), Some(true));
        assert_eq!(outcome.map(|o| o.last_position()), Some(11));
    }

    #[test]
    fn the_same_events_twice_in_one_batch_are_written_once() {
        let a = [event(1)];
        let plan = plan(
            genesis(),
            vec![],
            vec![],
            &[
                append("s", ExpectedVersion::NoStream, &a),
                append("s", ExpectedVersion::NoStream, &a),
            ],
            now(),
        );
        assert_eq!(plan.rows.len(), 1);
        let first = plan.outcomes[0].as_ref().ok().map(|o| o.events.clone());
        let second = plan.outcomes[1].as_ref().ok().map(|o| o.events.clone());
        assert_eq!(first, second);
    }

    #[test]
    fn reused_ids_in_a_different_batch_shape_are_refused() {
        let a = [event(1)];
        let stored = vec![Placement {
            event_id: a[0].event_id,
            stream_id: "s".into(),
            stream_version: 0,
            position: 1,
        }];
        let partly = [a[0].clone(), event(2)];
        let other_stream = plan(
            genesis(),
            stored.clone(),
            vec![],
            &[
                append("t", ExpectedVersion::Any, &a),
                append("s", ExpectedVersion::Any, &partly),
            ],
            now(),
        );
        assert!(other_stream.rows.is_empty());
        for outcome in &other_stream.outcomes {
            assert!(matches!(
                outcome,
                Err(StoreError::IdempotencyMismatch { .. })
            ));
        }
    }

    #[test]
    fn invalid_appends_are_refused() {
        let dup = [event(1)];
        let twice = [dup[0].clone(), dup[0].clone()];
        let mut untyped = event(2);
        untyped.event_type.clear();
        let untyped = [untyped];
        let long = "x".repeat(MAX_STREAM_ID_LEN + 1);
        let plan = plan(
            genesis(),
            vec![],
            vec![],
            &[
                append("s", ExpectedVersion::Any, &[]),
                append("s", ExpectedVersion::Any, &twice),
                append("s", ExpectedVersion::Any, &untyped),
                append("", ExpectedVersion::Any, &dup),
                append(&long, ExpectedVersion::Any, &dup),
            ],
            now(),
        );
        assert!(plan.rows.is_empty());
        for outcome in &plan.outcomes {
            assert!(matches!(outcome, Err(StoreError::InvalidAppend(_))));
        }
    }

    #[test]
    fn recording_times_never_go_back_along_the_log() {
        let later = now() + chrono::Duration::seconds(30);
        let head = Head {
            recorded_at: Some(later),
            ..genesis()
        };
        let events = [event(1)];
        let append = Append {
            stream_id: "s",
            expected: ExpectedVersion::Any,
            events: &events,
        };
        // This server's clock is behind the last recorded event's.
        let plan = plan(head, Vec::new(), Vec::new(), &[append], now());
        assert_eq!(plan.rows.first().map(|r| r.recorded_at), Some(later));
        assert_eq!(plan.head.recorded_at, Some(later));
    }
}
