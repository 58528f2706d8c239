//! Any aggregate's state at any point of its history: the stream's events up
//! to there, folded with the aggregate's own `evolve`, as JSON for auditors.
//! Secrets the state keeps (hashes of agent secrets, API keys, enrollment
//! tokens and refresh tokens) are left out of the JSON.

use serde::Serialize;
use serde_json::Value;

use crate::aggregate::Aggregate;
use crate::codec::{CodecError, decode};
use crate::stream::Category;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("`{0}` is not the stream of an aggregate ({known})", known = known_prefixes())]
    NotAnAggregate(String),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("state cannot be shown: {0}")]
    Encode(String),
}

/// A stream's state as of some point, and how much of it was folded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateAsOf {
    /// The aggregate's stream prefix, naming its kind (`agent`, `task`, …).
    pub aggregate: &'static str,
    /// Events folded.
    pub events: u64,
    pub state: Value,
}

/// Folds `events` (type, schema version and payload, in stream order) into
/// the state of the aggregate that `stream_id` belongs to.
pub fn fold_stream<'a>(
    stream_id: &str,
    events: impl IntoIterator<Item = (&'a str, i32, &'a Value)>,
) -> Result<StateAsOf, HistoryError> {
    let mut folder = folder(stream_id)?;
    for (event_type, schema_version, payload) in events {
        folder.apply_at(event_type, schema_version, payload)?;
    }
    folder.finish()
}

/// Folds a stream one event at a time, so a long one need not be held whole.
pub trait StreamFolder: Send {
    /// Folds one stored event, upcast from the schema version it was
    /// written at.
    fn apply_at(
        &mut self,
        event_type: &str,
        schema_version: i32,
        payload: &Value,
    ) -> Result<(), HistoryError>;

    fn finish(self: Box<Self>) -> Result<StateAsOf, HistoryError>;
}

/// A folder for the aggregate `stream_id` belongs to, known from its prefix
/// before any event is read.
pub fn folder(stream_id: &str) -> Result<Box<dyn StreamFolder>, HistoryError> {
    folder_for(Category::of(stream_id))
        .ok_or_else(|| HistoryError::NotAnAggregate(stream_id.to_owned()))
}

/// The aggregates, each once: the folders and the prefixes named in errors
/// are both made from this list.
macro_rules! aggregates {
    ($($aggregate:ty),+ $(,)?) => {
        /// The stream prefix of every aggregate.
        pub const PREFIXES: &[&str] = &[$(<$aggregate as Aggregate>::STREAM_PREFIX),+];

        fn folder_for(prefix: &str) -> Option<Box<dyn StreamFolder>> {
            $(if prefix == <$aggregate as Aggregate>::STREAM_PREFIX {
                return Some(Box::new(Folder::<$aggregate>::default()));
            })+
            None
        }
    };
}

aggregates!(
    crate::agent::Agent,
    crate::task::Task,
    crate::tenant::Tenant,
    crate::api_key::ApiKey,
    crate::budget::Budget,
    crate::budget::Batch,
    crate::alert::Alert,
    crate::webhook::Webhook,
    crate::instruction::Instruction,
    crate::instruction::CommandTemplate,
    crate::dedup::DedupReservation,
    crate::delivery::Delivery,
    crate::tenant::Installation,
    crate::enrollment::EnrollmentToken,
);

/// "agent-, task-, … or system-".
fn known_prefixes() -> String {
    let named: Vec<String> = PREFIXES.iter().map(|p| format!("{p}-")).collect();
    match named.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[derive(Default)]
struct Folder<A> {
    state: A,
    events: u64,
}

impl<A: Aggregate + Serialize> StreamFolder for Folder<A> {
    fn apply_at(
        &mut self,
        event_type: &str,
        schema_version: i32,
        payload: &Value,
    ) -> Result<(), HistoryError> {
        let event = decode::<A::Event>(event_type, schema_version, payload)?;
        self.state = A::evolve(std::mem::take(&mut self.state), &event);
        self.events += 1;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<StateAsOf, HistoryError> {
        Ok(StateAsOf {
            aggregate: A::STREAM_PREFIX,
            events: self.events,
            state: serde_json::to_value(&self.state)
                .map_err(|e| HistoryError::Encode(e.to_string()))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode;
    use crate::ids::{AgentId, TenantId};
    use crate::task::{NewTask, Task, TaskCommand, TaskEvent};

    fn encoded(events: &[TaskEvent]) -> Vec<(String, Value)> {
        events.iter().filter_map(|e| encode(e).ok()).collect()
    }

    fn new_task() -> NewTask {
        NewTask {
            tenant_id: TenantId::new(),
            task_type: "moderate".into(),
            input: Value::Null,
            priority: 0,
            callback_url: None,
            dedup_key: None,
            forced: false,
            retry_of: None,
            agent_kind: None,
            step: None,
        }
    }

    #[test]
    fn a_prefix_of_the_stream_gives_the_state_at_that_point() {
        // Given a task created then claimed
        let created = Task::decide(
            &Task::default(),
            TaskCommand::Create {
                task: new_task(),
                policy: crate::address::AddressPolicy::default(),
            },
        )
        .unwrap_or_default();
        let after_create = Task::fold(&created);
        let claimed = Task::decide(
            &after_create,
            TaskCommand::Claim {
                agent_id: AgentId::new(),
                agent_kind: "k".into(),
            },
        )
        .unwrap_or_default();
        let all: Vec<TaskEvent> = created.iter().chain(&claimed).cloned().collect();
        let stored = encoded(&all);
        let as_refs = |n: usize| stored.iter().take(n).map(|(t, p)| (t.as_str(), 1, p));

        // When the first event alone is folded, then all of them
        let first = fold_stream("task-1", as_refs(1)).ok();
        let whole = fold_stream("task-1", as_refs(stored.len())).ok();

        // Then each is the state at its point, with the events it took
        assert_eq!(
            first.as_ref().map(|s| (s.aggregate, s.events)),
            Some(("task", 1))
        );
        assert_eq!(
            first.map(|s| s.state["status"].clone()),
            Some(Value::from("pending"))
        );
        assert_eq!(whole.as_ref().map(|s| s.events), Some(stored.len() as u64));
        assert_eq!(
            whole.map(|s| s.state["status"].clone()),
            Some(Value::from("claimed"))
        );
    }

    #[test]
    fn streams_without_an_aggregate_and_foreign_events_are_refused() {
        let none: Vec<(&str, i32, &Value)> = Vec::new();
        assert!(matches!(
            fold_stream("actions-1", none.clone()),
            Err(HistoryError::NotAnAggregate(_))
        ));
        let payload = Value::Object(Default::default());
        assert!(matches!(
            fold_stream("task-1", [("AgentEnabled", 1, &payload)]),
            Err(HistoryError::Codec(_))
        ));
    }

    #[test]
    fn a_stream_no_aggregate_owns_is_refused_naming_every_prefix() {
        let refused = folder("nothing-here").err().map(|e| e.to_string());
        let text = refused.unwrap_or_default();
        for prefix in PREFIXES {
            assert!(text.contains(&format!("{prefix}-")), "{prefix}: {text}");
        }
    }

    #[test]
    fn stored_events_fold_from_the_version_they_were_written_at() {
        let (online, payload) =
            encode(&crate::agent::AgentEvent::AgentWentOnline).unwrap_or_default();
        let v1 = serde_json::json!({ "last_seen": "2026-01-02T03:04:05Z" });
        let folded = fold_stream(
            "agent-1",
            [(online.as_str(), 1, &payload), ("AgentWentOffline", 1, &v1)],
        );
        assert_eq!(
            folded.ok().map(|s| (s.events, s.state["online"].clone())),
            Some((2, Value::Bool(false)))
        );
    }

    #[test]
    fn secrets_are_left_out_of_the_state() {
        let agent = crate::agent::Agent {
            secret_hash: "$argon2id$secret".into(),
            ..Default::default()
        };
        let shown = serde_json::to_string(&agent).unwrap_or_default();
        assert!(!shown.contains("argon2") && shown.contains("\"enabled\""));
    }
}
