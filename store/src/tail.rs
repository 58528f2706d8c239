//! The events this process committed last, kept in memory. Every subscriber
//! at the head (each projection, reactor and live feed) would otherwise read
//! each new event back from the database and parse its payload again, one
//! round trip and one parse per subscriber per commit; from here they get a
//! copy. The tail only ever holds an unbroken run of positions: when another
//! process appended in between, it starts over, and subscribers read what it
//! does not hold from the database as before.

use std::collections::VecDeque;
use std::sync::{PoisonError, RwLock};

use crate::event::{EventFilter, Position, RecordedEvent};

/// Events kept: a few seconds of a busy log, enough for a subscriber that is
/// a batch or two behind.
const CAPACITY: usize = 8192;

#[derive(Default)]
pub(crate) struct Tail {
    events: RwLock<VecDeque<RecordedEvent>>,
}

impl Tail {
    /// After a commit that moved the head from `before` to the last of
    /// `events` (in position order).
    pub fn extend(&self, before: Position, events: Vec<RecordedEvent>) {
        let mut tail = self.events.write().unwrap_or_else(PoisonError::into_inner);
        if tail.back().is_some_and(|last| last.position != before) {
            tail.clear();
        }
        tail.extend(events);
        let excess = tail.len().saturating_sub(CAPACITY);
        tail.drain(..excess);
    }

    /// Drops everything held: subscribers read the store until the next commit.
    pub fn forget(&self) {
        self.events
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Up to `limit` events at or after `from` that match `filter`, and the
    /// last position looked at (every event up to it that matches is in
    /// the page); or `None` when the tail cannot say: it does not reach back
    /// to `from`, or `from` is past everything it holds (another process may
    /// have appended since; only the database knows).
    pub fn read(
        &self,
        from: Position,
        limit: usize,
        filter: &EventFilter,
    ) -> Option<(Vec<RecordedEvent>, Position)> {
        let tail = self.events.read().unwrap_or_else(PoisonError::into_inner);
        let first = tail.front()?.position;
        let last = tail.back()?.position;
        if from < first || from > last {
            return None;
        }
        let start = usize::try_from(from - first).ok()?;
        let mut page = Vec::new();
        let mut scanned = from.saturating_sub(1);
        for event in tail.range(start..) {
            if page.len() == limit {
                break;
            }
            scanned = event.position;
            if filter.matches(event) {
                page.push(event.clone());
            }
        }
        Some((page, scanned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentledger_domain::Actor;
    use uuid::Uuid;

    fn event(position: Position) -> RecordedEvent {
        RecordedEvent {
            position,
            stream_id: "s".into(),
            stream_version: position,
            event_id: Uuid::now_v7(),
            event_type: if position.is_multiple_of(2) {
                "Even"
            } else {
                "Odd"
            }
            .into(),
            schema_version: 1,
            tenant_id: Uuid::nil(),
            occurred_at: chrono::Utc::now(),
            recorded_at: chrono::Utc::now(),
            actor: Actor::system("test"),
            correlation_id: None,
            causation_id: None,
            payload: serde_json::json!({}),
            hash: Vec::new(),
        }
    }

    fn positions(events: Option<(Vec<RecordedEvent>, Position)>) -> Option<Vec<Position>> {
        events.map(|(e, _)| e.iter().map(|e| e.position).collect())
    }

    #[test]
    fn serves_only_what_it_holds_without_gaps() {
        let tail = Tail::default();
        let all = EventFilter::default();
        assert_eq!(positions(tail.read(1, 10, &all)), None);
        tail.extend(10, (11..=13).map(event).collect());
        tail.extend(13, (14..=15).map(event).collect());
        assert_eq!(positions(tail.read(12, 2, &all)), Some(vec![12, 13]));
        assert_eq!(positions(tail.read(10, 10, &all)), None);
        assert_eq!(positions(tail.read(16, 10, &all)), None);
        let even = EventFilter {
            event_types: vec!["Even".into()],
            ..EventFilter::default()
        };
        assert_eq!(positions(tail.read(11, 10, &even)), Some(vec![12, 14]));
        // A filter that matches little still says how far it looked.
        let none = EventFilter {
            event_types: vec!["Neither".into()],
            ..EventFilter::default()
        };
        assert_eq!(
            tail.read(11, 10, &none).map(|(_, scanned)| scanned),
            Some(15)
        );
        assert_eq!(
            tail.read(11, 2, &even).map(|(_, scanned)| scanned),
            Some(14)
        );
        // Another process appended 16 and 17: what this one holds starts over.
        tail.extend(17, (18..=18).map(event).collect());
        assert_eq!(positions(tail.read(15, 10, &all)), None);
        assert_eq!(positions(tail.read(18, 10, &all)), Some(vec![18]));
    }

    #[test]
    fn keeps_a_bounded_number() {
        let tail = Tail::default();
        let n = CAPACITY as Position + 100;
        tail.extend(0, (1..=n).map(event).collect());
        assert_eq!(positions(tail.read(100, 1, &EventFilter::default())), None);
        assert_eq!(
            positions(tail.read(101, 1, &EventFilter::default())),
            Some(vec![101])
        );
    }
}
