//! Any aggregate's state at any point of its history: the stream's events up
//! to there, folded with the aggregate's own `evolve`, as JSON for auditors.
//! Secrets the state keeps (hashes of agent secrets, API keys and refresh
//! tokens) are left out of the JSON.

use serde::Serialize;
use serde_json::Value;

use crate::aggregate::Aggregate;
use crate::codec::{CodecError, decode};

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "`{0}` is not the stream of an aggregate (agent-, task-, tenant-, apikey-, command-, cmdtemplate-, alert-, budget-, batch-, webhook-, taskdedup- or system-)"
    )]
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

/// Folds `events` (type and payload, in stream order) into the state of the
/// aggregate that `stream_id` belongs to.
pub fn fold_stream<'a>(
    stream_id: &str,
    events: impl IntoIterator<Item = (&'a str, &'a Value)>,
) -> Result<StateAsOf, HistoryError> {
    let mut folder = folder(stream_id)?;
    for (event_type, payload) in events {
        folder.apply(event_type, payload)?;
    }
    folder.finish()
}

/// Folds a stream one event at a time, so a long one need not be held whole.
pub trait StreamFolder: Send {
    fn apply(&mut self, event_type: &str, payload: &Value) -> Result<(), HistoryError>;
    fn finish(self: Box<Self>) -> Result<StateAsOf, HistoryError>;
}

/// A folder for the aggregate `stream_id` belongs to, known from its prefix
/// before any event is read.
pub fn folder(stream_id: &str) -> Result<Box<dyn StreamFolder>, HistoryError> {
    use crate::agent::Agent;
    use crate::alert::Alert;
    use crate::api_key::ApiKey;
    use crate::budget::{Batch, Budget};
    use crate::dedup::DedupReservation;
    use crate::dispatch::{CommandTemplate, Dispatch};
    use crate::task::Task;
    use crate::tenant::{Installation, Tenant};
    use crate::webhook::Webhook;

    let prefix = stream_id.split_once('-').map_or(stream_id, |(p, _)| p);
    macro_rules! by_prefix {
        ($($aggregate:ty),*) => {
            $(if prefix == <$aggregate>::STREAM_PREFIX {
                return Ok(Box::new(Folder::<$aggregate>::default()));
            })*
        };
    }
    by_prefix!(
        Agent,
        Task,
        Tenant,
        Installation,
        ApiKey,
        Budget,
        Batch,
        Alert,
        Webhook,
        Dispatch,
        CommandTemplate,
        DedupReservation
    );
    Err(HistoryError::NotAnAggregate(stream_id.to_owned()))
}

#[derive(Default)]
struct Folder<A> {
    state: A,
    events: u64,
}

impl<A: Aggregate + Serialize> StreamFolder for Folder<A> {
    fn apply(&mut self, event_type: &str, payload: &Value) -> Result<(), HistoryError> {
        let event = decode::<A::Event>(event_type, payload)?;
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
        }
    }

    #[test]
    fn a_prefix_of_the_stream_gives_the_state_at_that_point() {
        // Given a task created then claimed
        let created =
            Task::decide(&Task::default(), TaskCommand::Create(new_task())).unwrap_or_default();
        let after_create = Task::fold(&created);
        let claimed = Task::decide(
            &after_create,
            TaskCommand::Claim {
                agent_id: AgentId::new(),
            },
        )
        .unwrap_or_default();
        let all: Vec<TaskEvent> = created.iter().chain(&claimed).cloned().collect();
        let stored = encoded(&all);
        let as_refs = |n: usize| stored.iter().take(n).map(|(t, p)| (t.as_str(), p));

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
        let none: Vec<(&str, &Value)> = Vec::new();
        assert!(matches!(
            fold_stream("actions-1", none.clone()),
            Err(HistoryError::NotAnAggregate(_))
        ));
        let payload = Value::Object(Default::default());
        assert!(matches!(
            fold_stream("task-1", [("AgentEnabled", &payload)]),
            Err(HistoryError::Codec(_))
        ));
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
