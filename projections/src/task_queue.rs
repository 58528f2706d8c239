//! Pending tasks per tenant, highest priority first, then oldest: where an
//! agent's poll looks for work. It only suggests candidates; the task's own
//! stream decides who gets it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::sync::{PoisonError, RwLock};

use agentledger_domain::Aggregate;
use agentledger_domain::codec::{CodecError, decode_if};
use agentledger_domain::ids::{TaskId, TenantId};
use agentledger_domain::task::{Task, TaskEvent};
use agentledger_store::RecordedEvent;

use crate::follower::Apply;

type Order = (Reverse<i32>, u64);

#[derive(Default)]
pub struct TaskQueue {
    inner: RwLock<Inner>,
}

/// A pending task: its id, type and the kind of agent it is for.
type Pending = (TaskId, String, Option<String>);

#[derive(Default)]
struct Inner {
    pending: HashMap<TenantId, BTreeMap<Order, Pending>>,
    index: HashMap<TaskId, (TenantId, Order)>,
}

impl TaskQueue {
    /// Up to `limit` pending tasks of the tenant, in claim order, of one of
    /// `types` (any type when empty), that an agent of `kind` may claim.
    pub fn candidates(
        &self,
        tenant: TenantId,
        types: &[String],
        kind: &str,
        limit: usize,
    ) -> Vec<TaskId> {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let Some(queue) = inner.pending.get(&tenant) else {
            return Vec::new();
        };
        queue
            .values()
            .filter(|(_, task_type, for_kind)| {
                (types.is_empty() || types.contains(task_type))
                    && for_kind.as_deref().is_none_or(|k| k == kind)
            })
            .take(limit)
            .map(|(id, _, _)| *id)
            .collect()
    }

    pub fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .index
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Apply for TaskQueue {
    fn apply(&self, event: &RecordedEvent) -> Result<(), CodecError> {
        let Some(id) = Task::CATEGORY
            .id_in(&event.stream_id)
            .and_then(|id| id.parse().ok())
        else {
            return Ok(());
        };
        let task_id = TaskId(id);
        let Some(task_event) =
            decode_if::<TaskEvent>(&event.event_type, event.schema_version, &event.payload)?
        else {
            return Ok(());
        };
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        match task_event {
            TaskEvent::TaskCreated(task) => {
                let order = (Reverse(task.priority), event.position);
                inner
                    .pending
                    .entry(task.tenant_id)
                    .or_default()
                    .insert(order, (task_id, task.task_type, task.agent_kind));
                inner.index.insert(task_id, (task.tenant_id, order));
            }
            TaskEvent::TaskClaimed { .. }
            | TaskEvent::TaskCancelled { .. }
            | TaskEvent::TaskCompleted { .. }
            | TaskEvent::TaskFailed { .. } => {
                if let Some((tenant, order)) = inner.index.remove(&task_id)
                    && let Some(queue) = inner.pending.get_mut(&tenant)
                {
                    queue.remove(&order);
                }
            }
            TaskEvent::TaskProgressed { .. } | TaskEvent::TaskRetried { .. } => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentledger_domain::Actor;
    use agentledger_domain::codec::encode;
    use agentledger_domain::ids::AgentId;
    use agentledger_domain::task::NewTask;
    use serde_json::json;

    fn recorded(position: u64, task_id: TaskId, event: &TaskEvent) -> RecordedEvent {
        let (event_type, payload) = encode(event).unwrap_or_default();
        RecordedEvent {
            position,
            stream_id: format!("task-{task_id}"),
            stream_version: 0,
            event_id: uuid::Uuid::now_v7(),
            event_type,
            schema_version: 1,
            tenant_id: uuid::Uuid::nil(),
            occurred_at: chrono::Utc::now(),
            recorded_at: chrono::Utc::now(),
            actor: Actor::system("test"),
            correlation_id: None,
            causation_id: None,
            payload,
            hash: vec![],
        }
    }

    fn created(tenant: TenantId, task_type: &str, priority: i32) -> TaskEvent {
        TaskEvent::TaskCreated(NewTask {
            tenant_id: tenant,
            task_type: task_type.into(),
            input: json!({}),
            priority,
            callback_url: None,
            dedup_key: None,
            forced: false,
            retry_of: None,
            agent_kind: None,
            step: None,
        })
    }

    #[test]
    fn candidates_come_by_priority_then_age_per_tenant_and_type() {
        let queue = TaskQueue::default();
        let (t1, t2) = (TenantId::new(), TenantId::new());
        let ids: Vec<TaskId> = (0..5).map(|_| TaskId::new()).collect();
        let apply = |position, id, event: &TaskEvent| {
            assert!(queue.apply(&recorded(position, id, event)).is_ok());
        };
        apply(1, ids[0], &created(t1, "a", 1));
        apply(2, ids[1], &created(t1, "b", 5));
        apply(3, ids[2], &created(t1, "a", 5));
        apply(4, ids[3], &created(t2, "a", 9));
        apply(5, ids[4], &created(t1, "a", 1));

        assert_eq!(
            queue.candidates(t1, &[], "k", 10),
            vec![ids[1], ids[2], ids[0], ids[4]]
        );
        assert_eq!(
            queue.candidates(t1, &["a".into()], "k", 2),
            vec![ids[2], ids[0]]
        );
        assert_eq!(queue.candidates(t2, &["b".into()], "k", 10), vec![]);

        apply(
            6,
            ids[1],
            &TaskEvent::TaskClaimed {
                agent_id: AgentId::new(),
            },
        );
        apply(7, ids[0], &TaskEvent::TaskCancelled { reason: None });
        assert_eq!(queue.candidates(t1, &[], "k", 10), vec![ids[2], ids[4]]);
        assert_eq!(queue.len(), 3);
    }

    #[test]
    fn a_task_for_one_kind_of_agent_is_offered_to_that_kind_alone() {
        let queue = TaskQueue::default();
        let tenant = TenantId::new();
        let (any, writers) = (TaskId::new(), TaskId::new());
        let mut for_writers = created(tenant, "a", 1);
        if let TaskEvent::TaskCreated(task) = &mut for_writers {
            task.agent_kind = Some("writer".into());
        }
        assert!(queue.apply(&recorded(1, writers, &for_writers)).is_ok());
        assert!(
            queue
                .apply(&recorded(2, any, &created(tenant, "a", 1)))
                .is_ok()
        );
        assert_eq!(
            queue.candidates(tenant, &[], "writer", 10),
            vec![writers, any]
        );
        assert_eq!(queue.candidates(tenant, &[], "reviewer", 10), vec![any]);
    }
}
