//! A unit of work: created by an operator (or an agent allowed to), claimed by
//! exactly one agent, reported on, and finished once.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::address::AddressPolicy;
use crate::aggregate::Aggregate;
use crate::error::DomainError;
use crate::ids::{AgentId, TaskId, TenantId};

pub const MAX_INPUT_BYTES: usize = 256 * 1024;
pub const MAX_CHUNK_BYTES: usize = 64 * 1024;
pub const MAX_MESSAGE_CHARS: usize = 2000;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    #[default]
    Pending,
    Claimed,
    Processing,
    Completed,
    Failed,
    Cancelled,
}

crate::names::snake_case_names!(TaskStatus {
    Pending => "pending",
    Claimed => "claimed",
    Processing => "processing",
    Completed => "completed",
    Failed => "failed",
    Cancelled => "cancelled",
});

impl TaskStatus {
    /// Completed, failed or cancelled: nothing more happens to the task (a
    /// retry is a task of its own).
    pub fn is_over(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Task {
    pub exists: bool,
    pub tenant_id: TenantId,
    pub task_type: String,
    pub priority: i32,
    pub status: TaskStatus,
    pub claimed_by: Option<AgentId>,
    pub progress: u8,
    pub retry_of: Option<TaskId>,
    pub retried_as: Option<TaskId>,
    /// Called when the task ends.
    pub callback_url: Option<String>,
    /// Only an agent of this kind may claim it.
    pub agent_kind: Option<String>,
    /// The attempt of an execution's step this task does.
    pub step: Option<StepAttempt>,
}

/// An attempt of a step of an execution, which a task does: its ending is
/// reported to the execution.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepAttempt {
    pub execution_id: uuid::Uuid,
    pub step: String,
    pub attempt: u32,
}

#[derive(Debug, Clone)]
pub enum TaskCommand {
    Create {
        task: NewTask,
        /// The outbound address policy its `callback_url` must pass.
        policy: AddressPolicy,
    },
    Claim {
        agent_id: AgentId,
        /// The claiming agent's kind: a task meant for another kind is not
        /// its to claim.
        agent_kind: String,
    },
    ReportProgress {
        agent_id: AgentId,
        percent: u8,
        message: Option<String>,
        output_chunk: Option<String>,
    },
    Complete {
        agent_id: AgentId,
        result: Value,
    },
    Fail {
        agent_id: AgentId,
        error: String,
        retryable: bool,
    },
    Cancel {
        reason: Option<String>,
    },
    /// Links a failed or cancelled task to the task that retries it.
    MarkRetried {
        new_task_id: TaskId,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTask {
    pub tenant_id: TenantId,
    pub task_type: String,
    pub input: Value,
    pub priority: i32,
    pub callback_url: Option<String>,
    pub dedup_key: Option<String>,
    pub forced: bool,
    pub retry_of: Option<TaskId>,
    /// Only an agent of this kind may claim it (any agent when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_kind: Option<String>,
    /// The attempt of an execution's step this task does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepAttempt>,
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames, strum::EnumDiscriminants,
)]
#[strum_discriminants(
    name(TaskEventType),
    derive(Hash, strum::IntoStaticStr, strum::VariantArray),
    strum(const_into_str)
)]
#[serde(tag = "type", content = "data")]
pub enum TaskEvent {
    TaskCreated(NewTask),
    TaskClaimed {
        agent_id: AgentId,
    },
    TaskProgressed {
        agent_id: AgentId,
        percent: u8,
        message: Option<String>,
        output_chunk: Option<String>,
    },
    TaskCompleted {
        agent_id: AgentId,
        result: Value,
    },
    TaskFailed {
        agent_id: AgentId,
        error: String,
        retryable: bool,
    },
    TaskCancelled {
        reason: Option<String>,
    },
    TaskRetried {
        new_task_id: TaskId,
    },
}

pub fn validate_new(task: &NewTask, policy: AddressPolicy) -> Result<(), DomainError> {
    DomainError::check_label("task type", &task.task_type)?;
    if let Some(kind) = &task.agent_kind {
        DomainError::check_label("agent kind", kind)?;
    }
    if task.input.to_string().len() > MAX_INPUT_BYTES {
        return Err(DomainError::invalid(format!(
            "task input exceeds {MAX_INPUT_BYTES} bytes"
        )));
    }
    if let Some(url) = &task.callback_url {
        policy.check_url("callback_url", url)?;
    }
    if task
        .dedup_key
        .as_ref()
        .is_some_and(|k| k.is_empty() || k.len() > 200)
    {
        return Err(DomainError::invalid(
            "dedup_key must be 1 to 200 characters",
        ));
    }
    Ok(())
}

impl Task {
    fn transition(&self, action: &'static str, allowed: &[TaskStatus]) -> Result<(), DomainError> {
        if !self.exists {
            return Err(DomainError::NotFound("task"));
        }
        if allowed.contains(&self.status) {
            Ok(())
        } else {
            Err(DomainError::InvalidTransition {
                entity: "task",
                action,
                state: self.status.to_string(),
            })
        }
    }

    fn require_claimer(&self, agent_id: AgentId) -> Result<(), DomainError> {
        if self.claimed_by == Some(agent_id) {
            Ok(())
        } else {
            Err(DomainError::Forbidden(
                "the task is claimed by another agent".into(),
            ))
        }
    }
}

const WORKING: &[TaskStatus] = &[TaskStatus::Claimed, TaskStatus::Processing];

impl Aggregate for Task {
    type Command = TaskCommand;
    type Event = TaskEvent;
    type Id = crate::ids::TaskId;
    const STREAM_PREFIX: &'static str = "task";
    const ENTITY: &'static str = "task";

    fn owner(&self) -> Option<crate::ids::TenantId> {
        self.exists.then_some(self.tenant_id)
    }

    fn decide(state: &Self, command: TaskCommand) -> Result<Vec<TaskEvent>, DomainError> {
        use TaskCommand as C;
        use TaskEvent as E;
        match command {
            C::Create { task, policy } => {
                if state.exists {
                    return Err(DomainError::AlreadyExists("task"));
                }
                validate_new(&task, policy)?;
                Ok(vec![E::TaskCreated(task)])
            }
            C::Claim {
                agent_id,
                agent_kind,
            } => {
                state.transition("claim", &[TaskStatus::Pending])?;
                if state.agent_kind.as_ref().is_some_and(|k| *k != agent_kind) {
                    return Err(DomainError::Forbidden(
                        "the task is meant for agents of another kind".into(),
                    ));
                }
                Ok(vec![E::TaskClaimed { agent_id }])
            }
            C::ReportProgress {
                agent_id,
                percent,
                message,
                output_chunk,
            } => {
                state.transition("report progress on", WORKING)?;
                state.require_claimer(agent_id)?;
                if percent > 100 {
                    return Err(DomainError::invalid("percent must be 0 to 100"));
                }
                // Progress only moves forward: a report that goes back is a
                // stale or confused one, and readers would see the bar jump.
                if percent < state.progress {
                    return Err(DomainError::invalid(format!(
                        "percent cannot go back: the task is at {}, {percent} was sent",
                        state.progress
                    )));
                }
                if message
                    .as_ref()
                    .is_some_and(|m| m.chars().count() > MAX_MESSAGE_CHARS)
                {
                    return Err(DomainError::invalid(format!(
                        "message exceeds {MAX_MESSAGE_CHARS} characters"
                    )));
                }
                if output_chunk
                    .as_ref()
                    .is_some_and(|c| c.len() > MAX_CHUNK_BYTES)
                {
                    return Err(DomainError::invalid(format!(
                        "output chunk exceeds {MAX_CHUNK_BYTES} bytes"
                    )));
                }
                Ok(vec![E::TaskProgressed {
                    agent_id,
                    percent,
                    message,
                    output_chunk,
                }])
            }
            C::Complete { agent_id, result } => {
                state.transition("complete", WORKING)?;
                state.require_claimer(agent_id)?;
                if result.to_string().len() > MAX_INPUT_BYTES {
                    return Err(DomainError::invalid(format!(
                        "result exceeds {MAX_INPUT_BYTES} bytes"
                    )));
                }
                Ok(vec![E::TaskCompleted { agent_id, result }])
            }
            C::Fail {
                agent_id,
                error,
                retryable,
            } => {
                state.transition("fail", WORKING)?;
                state.require_claimer(agent_id)?;
                if error.chars().count() > MAX_MESSAGE_CHARS {
                    return Err(DomainError::invalid(format!(
                        "error exceeds {MAX_MESSAGE_CHARS} characters"
                    )));
                }
                Ok(vec![E::TaskFailed {
                    agent_id,
                    error,
                    retryable,
                }])
            }
            C::Cancel { reason } => {
                state.transition(
                    "cancel",
                    &[
                        TaskStatus::Pending,
                        TaskStatus::Claimed,
                        TaskStatus::Processing,
                    ],
                )?;
                Ok(vec![E::TaskCancelled { reason }])
            }
            C::MarkRetried { new_task_id } => {
                state.transition("retry", &[TaskStatus::Failed, TaskStatus::Cancelled])?;
                match state.retried_as {
                    Some(existing) if existing == new_task_id => Ok(vec![]),
                    Some(_) => Err(DomainError::InvalidTransition {
                        entity: "task",
                        action: "retry",
                        state: "already retried".into(),
                    }),
                    None => Ok(vec![E::TaskRetried { new_task_id }]),
                }
            }
        }
    }

    fn evolve(mut state: Self, event: &TaskEvent) -> Self {
        use TaskEvent as E;
        match event {
            E::TaskCreated(task) => {
                state.exists = true;
                state.tenant_id = task.tenant_id;
                state.task_type = task.task_type.clone();
                state.priority = task.priority;
                state.status = TaskStatus::Pending;
                state.retry_of = task.retry_of;
                state.callback_url.clone_from(&task.callback_url);
                state.agent_kind.clone_from(&task.agent_kind);
                state.step.clone_from(&task.step);
            }
            E::TaskClaimed { agent_id } => {
                state.status = TaskStatus::Claimed;
                state.claimed_by = Some(*agent_id);
            }
            E::TaskProgressed { percent, .. } => {
                state.status = TaskStatus::Processing;
                state.progress = *percent;
            }
            E::TaskCompleted { .. } => {
                state.status = TaskStatus::Completed;
                state.progress = 100;
            }
            E::TaskFailed { .. } => state.status = TaskStatus::Failed,
            E::TaskCancelled { .. } => state.status = TaskStatus::Cancelled,
            E::TaskRetried { new_task_id } => state.retried_as = Some(*new_task_id),
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::testing::{given, given_no_events};

    fn new_task() -> NewTask {
        NewTask {
            tenant_id: TenantId::new(),
            task_type: "moderate".into(),
            input: json!({ "post": 1 }),
            priority: 5,
            callback_url: None,
            dedup_key: None,
            forced: false,
            retry_of: None,
            agent_kind: None,
            step: None,
        }
    }

    fn in_status(status: TaskStatus, agent: AgentId) -> Task {
        let mut events = vec![TaskEvent::TaskCreated(new_task())];
        match status {
            TaskStatus::Pending => {}
            TaskStatus::Claimed => events.push(TaskEvent::TaskClaimed { agent_id: agent }),
            TaskStatus::Processing => events.extend([
                TaskEvent::TaskClaimed { agent_id: agent },
                TaskEvent::TaskProgressed {
                    agent_id: agent,
                    percent: 10,
                    message: None,
                    output_chunk: None,
                },
            ]),
            TaskStatus::Completed => events.extend([
                TaskEvent::TaskClaimed { agent_id: agent },
                TaskEvent::TaskCompleted {
                    agent_id: agent,
                    result: json!(null),
                },
            ]),
            TaskStatus::Failed => events.extend([
                TaskEvent::TaskClaimed { agent_id: agent },
                TaskEvent::TaskFailed {
                    agent_id: agent,
                    error: "e".into(),
                    retryable: true,
                },
            ]),
            TaskStatus::Cancelled => events.push(TaskEvent::TaskCancelled { reason: None }),
        }
        let task = Task::fold(&events);
        assert_eq!(task.status, status);
        task
    }

    #[test]
    fn a_created_task_is_pending() {
        let asked = new_task();
        let task = given_no_events::<Task>()
            .when(TaskCommand::Create {
                task: asked.clone(),
                policy: AddressPolicy::default(),
            })
            .then([TaskEvent::TaskCreated(asked)]);
        assert_eq!((task.status, task.progress), (TaskStatus::Pending, 0));
    }

    #[test]
    fn a_claimed_task_reports_progress_then_completes() {
        let agent = AgentId::new();
        let progress = TaskEvent::TaskProgressed {
            agent_id: agent,
            percent: 40,
            message: Some("half".into()),
            output_chunk: Some("line".into()),
        };
        let task = given::<Task>([
            TaskEvent::TaskCreated(new_task()),
            TaskEvent::TaskClaimed { agent_id: agent },
        ])
        .when(TaskCommand::ReportProgress {
            agent_id: agent,
            percent: 40,
            message: Some("half".into()),
            output_chunk: Some("line".into()),
        })
        .then([progress.clone()]);
        assert_eq!((task.status, task.progress), (TaskStatus::Processing, 40));

        let result = json!({ "ok": true });
        let task = given::<Task>([
            TaskEvent::TaskCreated(new_task()),
            TaskEvent::TaskClaimed { agent_id: agent },
            progress,
        ])
        .when(TaskCommand::Complete {
            agent_id: agent,
            result: result.clone(),
        })
        .then([TaskEvent::TaskCompleted {
            agent_id: agent,
            result,
        }]);
        assert_eq!((task.status, task.progress), (TaskStatus::Completed, 100));
    }

    /// A command's name, the states it is allowed from, and how to make it.
    type TransitionCase = (&'static str, Vec<TaskStatus>, Box<dyn Fn() -> TaskCommand>);

    #[test]
    fn every_illegal_transition_is_refused_with_the_current_state() {
        use TaskStatus::*;
        let agent = AgentId::new();
        let commands: Vec<TransitionCase> = vec![
            (
                "claim",
                vec![Pending],
                Box::new(|| TaskCommand::Claim {
                    agent_id: AgentId::new(),
                    agent_kind: "k".into(),
                }),
            ),
            (
                "progress",
                vec![Claimed, Processing],
                Box::new(move || TaskCommand::ReportProgress {
                    agent_id: agent,
                    percent: 50,
                    message: None,
                    output_chunk: None,
                }),
            ),
            (
                "complete",
                vec![Claimed, Processing],
                Box::new(move || TaskCommand::Complete {
                    agent_id: agent,
                    result: json!(1),
                }),
            ),
            (
                "fail",
                vec![Claimed, Processing],
                Box::new(move || TaskCommand::Fail {
                    agent_id: agent,
                    error: "x".into(),
                    retryable: false,
                }),
            ),
            (
                "cancel",
                vec![Pending, Claimed, Processing],
                Box::new(|| TaskCommand::Cancel { reason: None }),
            ),
            (
                "retry",
                vec![Failed, Cancelled],
                Box::new(|| TaskCommand::MarkRetried {
                    new_task_id: TaskId::new(),
                }),
            ),
        ];
        for (name, allowed, command) in &commands {
            for status in [Pending, Claimed, Processing, Completed, Failed, Cancelled] {
                let result = Task::decide(&in_status(status, agent), command());
                if allowed.contains(&status) {
                    assert!(result.is_ok(), "{name} from {status}: {result:?}");
                } else {
                    assert_eq!(
                        result,
                        Err(DomainError::InvalidTransition {
                            entity: "task",
                            action: match *name {
                                "progress" => "report progress on",
                                other => other,
                            },
                            state: status.to_string()
                        }),
                        "{name} from {status}"
                    );
                }
            }
        }
        assert_eq!(
            Task::decide(
                &Task::default(),
                TaskCommand::Claim {
                    agent_id: agent,
                    agent_kind: "k".into()
                }
            ),
            Err(DomainError::NotFound("task"))
        );
        assert_eq!(
            Task::decide(
                &in_status(Pending, agent),
                TaskCommand::Create {
                    task: new_task(),
                    policy: AddressPolicy::default(),
                }
            ),
            Err(DomainError::AlreadyExists("task"))
        );
    }

    #[test]
    fn only_the_claiming_agent_reports_on_a_task() {
        let task = in_status(TaskStatus::Claimed, AgentId::new());
        let other = AgentId::new();
        for command in [
            TaskCommand::ReportProgress {
                agent_id: other,
                percent: 1,
                message: None,
                output_chunk: None,
            },
            TaskCommand::Complete {
                agent_id: other,
                result: json!(1),
            },
            TaskCommand::Fail {
                agent_id: other,
                error: "x".into(),
                retryable: false,
            },
        ] {
            assert!(matches!(
                Task::decide(&task, command),
                Err(DomainError::Forbidden(_))
            ));
        }
    }

    #[test]
    fn creation_and_reports_are_validated() {
        let mut bad = new_task();
        bad.task_type = String::new();
        assert!(matches!(
            Task::decide(
                &Task::default(),
                TaskCommand::Create {
                    task: bad,
                    policy: AddressPolicy::default(),
                }
            ),
            Err(DomainError::Invalid(_))
        ));
        for url in ["ftp://x", "http://169.254.169.254/", "http://[::7f00:1]/"] {
            let mut bad = new_task();
            bad.callback_url = Some(url.into());
            assert!(
                matches!(
                    Task::decide(
                        &Task::default(),
                        TaskCommand::Create {
                            task: bad,
                            policy: AddressPolicy::default(),
                        }
                    ),
                    Err(DomainError::Invalid(_))
                ),
                "{url}"
            );
        }
        let mut public = new_task();
        public.callback_url = Some("https://hooks.example.com/done".into());
        assert!(
            Task::decide(
                &Task::default(),
                TaskCommand::Create {
                    task: public,
                    policy: AddressPolicy::default(),
                }
            )
            .is_ok()
        );
        let agent = AgentId::new();
        let task = in_status(TaskStatus::Claimed, agent);
        let over = TaskCommand::ReportProgress {
            agent_id: agent,
            percent: 101,
            message: None,
            output_chunk: None,
        };
        assert!(matches!(
            Task::decide(&task, over),
            Err(DomainError::Invalid(_))
        ));
        let chunk = TaskCommand::ReportProgress {
            agent_id: agent,
            percent: 1,
            message: None,
            output_chunk: Some("x".repeat(MAX_CHUNK_BYTES + 1)),
        };
        assert!(matches!(
            Task::decide(&task, chunk),
            Err(DomainError::Invalid(_))
        ));
    }

    #[test]
    fn progress_moves_forward_or_stays_never_back() {
        let agent = AgentId::new();
        let command = |percent| TaskCommand::ReportProgress {
            agent_id: agent,
            percent,
            message: None,
            output_chunk: Some("more output".into()),
        };
        let at_70 = || {
            given::<Task>([
                TaskEvent::TaskCreated(new_task()),
                TaskEvent::TaskClaimed { agent_id: agent },
            ])
            .and(TaskEvent::TaskProgressed {
                agent_id: agent,
                percent: 70,
                message: None,
                output_chunk: None,
            })
        };
        let task = at_70()
            .when(command(70))
            .then_events(|events| assert_eq!(events.len(), 1));
        assert_eq!(task.progress, 70);
        at_70().when(command(30)).then_refused(|e| {
            matches!(e, DomainError::Invalid(m) if m.contains("cannot go back: the task is at 70"))
        });
    }

    #[test]
    fn a_task_is_retried_once() {
        let agent = AgentId::new();
        let failed = || {
            given::<Task>([
                TaskEvent::TaskCreated(new_task()),
                TaskEvent::TaskClaimed { agent_id: agent },
                TaskEvent::TaskFailed {
                    agent_id: agent,
                    error: "e".into(),
                    retryable: true,
                },
            ])
        };
        let next = TaskId::new();
        let retried = failed()
            .when(TaskCommand::MarkRetried { new_task_id: next })
            .then([TaskEvent::TaskRetried { new_task_id: next }]);
        assert_eq!(retried.retried_as, Some(next));
        let marked = || failed().and(TaskEvent::TaskRetried { new_task_id: next });
        // Marking it again with the same new task is a repeat; with another, a refusal.
        marked()
            .when(TaskCommand::MarkRetried { new_task_id: next })
            .then_nothing_happens();
        marked()
            .when(TaskCommand::MarkRetried {
                new_task_id: TaskId::new(),
            })
            .then_refused(|e| matches!(e, DomainError::InvalidTransition { .. }));
    }
}
