//! Task dedup keys. Each (tenant, key) has a reservation stream; creating a
//! task with a key first reserves it there. Two concurrent creates both decide
//! on the same version of the reservation, and the store lets only one append:
//! the other retries, sees the fresh reservation and records a skipped duplicate.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::Aggregate;
use crate::error::DomainError;
use crate::ids::TaskId;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DedupReservation {
    /// The task holding the key and until when.
    pub holder: Option<(TaskId, DateTime<Utc>)>,
}

#[derive(Debug, Clone)]
pub struct Reserve {
    pub dedup_key: String,
    pub task_id: TaskId,
    pub forced: bool,
    pub at: DateTime<Utc>,
    pub window: Duration,
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames, strum::EnumDiscriminants,
)]
#[strum_discriminants(
    name(DedupEventType),
    derive(Hash, strum::IntoStaticStr, strum::VariantArray),
    strum(const_into_str)
)]
#[serde(tag = "type", content = "data")]
pub enum DedupEvent {
    DedupKeyReserved {
        dedup_key: String,
        task_id: TaskId,
        expires_at: DateTime<Utc>,
    },
    /// A task with a held key was not created.
    DuplicateTaskSkipped {
        dedup_key: String,
        task_id: TaskId,
        duplicate_of: TaskId,
    },
}

impl Aggregate for DedupReservation {
    type Command = Reserve;
    type Event = DedupEvent;
    type Id = String;
    const STREAM_PREFIX: &'static str = "taskdedup";
    const ENTITY: &'static str = "dedup reservation";

    fn decide(state: &Self, c: Reserve) -> Result<Vec<DedupEvent>, DomainError> {
        match state.holder {
            Some((holder, _)) if holder == c.task_id => Ok(vec![]),
            Some((holder, until)) if until > c.at && !c.forced => {
                Ok(vec![DedupEvent::DuplicateTaskSkipped {
                    dedup_key: c.dedup_key,
                    task_id: c.task_id,
                    duplicate_of: holder,
                }])
            }
            _ => Ok(vec![DedupEvent::DedupKeyReserved {
                dedup_key: c.dedup_key,
                task_id: c.task_id,
                expires_at: c.at + c.window,
            }]),
        }
    }

    fn is_observation(event: &DedupEvent) -> bool {
        matches!(event, DedupEvent::DuplicateTaskSkipped { .. })
    }

    fn evolve(mut state: Self, event: &DedupEvent) -> Self {
        if let DedupEvent::DedupKeyReserved {
            task_id,
            expires_at,
            ..
        } = event
        {
            state.holder = Some((*task_id, *expires_at));
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap_or_default()
    }

    fn reserve(task_id: TaskId, seconds: i64, forced: bool) -> Reserve {
        Reserve {
            dedup_key: "k".into(),
            task_id,
            forced,
            at: at(seconds),
            window: Duration::seconds(100),
        }
    }

    fn run(state: DedupReservation, c: Reserve) -> (DedupReservation, Vec<DedupEvent>) {
        let events = DedupReservation::decide(&state, c).unwrap_or_default();
        (events.iter().fold(state, DedupReservation::evolve), events)
    }

    #[test]
    fn a_key_is_held_for_its_window_unless_forced() {
        let (first, second, third) = (TaskId::new(), TaskId::new(), TaskId::new());
        let (state, events) = run(DedupReservation::default(), reserve(first, 0, false));
        assert!(matches!(events[..], [DedupEvent::DedupKeyReserved { .. }]));

        let (state, events) = run(state, reserve(second, 50, false));
        assert_eq!(
            events,
            vec![DedupEvent::DuplicateTaskSkipped {
                dedup_key: "k".into(),
                task_id: second,
                duplicate_of: first
            }]
        );

        let (state, events) = run(state, reserve(second, 50, true));
        assert!(
            matches!(events[..], [DedupEvent::DedupKeyReserved { task_id, .. }] if task_id == second)
        );

        // After the window (reserved at 50 for 100s) the key is free again.
        let (_, events) = run(state, reserve(third, 151, false));
        assert!(
            matches!(events[..], [DedupEvent::DedupKeyReserved { task_id, .. }] if task_id == third)
        );
    }

    #[test]
    fn a_skip_is_an_observation_and_a_reservation_is_not() {
        let (state, events) = run(
            DedupReservation::default(),
            reserve(TaskId::new(), 0, false),
        );
        assert!(!DedupReservation::is_observation(&events[0]));
        let (after, skipped) = run(state.clone(), reserve(TaskId::new(), 1, false));
        assert!(DedupReservation::is_observation(&skipped[0]));
        assert_eq!(after, state, "an observation leaves the state as it was");
    }

    #[test]
    fn reserving_again_for_the_holder_is_a_no_op() {
        let task = TaskId::new();
        let (state, _) = run(DedupReservation::default(), reserve(task, 0, false));
        assert_eq!(run(state, reserve(task, 10, false)).1, vec![]);
    }
}
